package sipgate

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the HTTP transport for a Client that makes up to
// conns requests at once: it keeps that many connections to sipgate open
// between requests, so that concurrent sends reuse their TLS connections
// instead of opening one per request (Go's default keeps two), never opens
// more than conns at once, and speaks HTTP/2 when sipgate offers it.
func NewTransport(conns int) *http.Transport {
	conns = max(conns, 1)
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
