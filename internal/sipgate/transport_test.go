package sipgate

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter is a TLS server on loopback that answers every SMS at once
// and counts the connections opened to it, the most open at once, and the
// requests that did not come over the HTTP version it expects.
type connCounter struct {
	srv                 *httptest.Server
	opened, active      atomic.Int64
	peak, wrongProtocol atomic.Int64
}

func newConnCounter(t *testing.T, http2 bool) *connCounter {
	t.Helper()
	c := &connCounter{}
	want := map[bool]int{false: 1, true: 2}[http2]
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != want {
			c.wrongProtocol.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	c.srv.Listener.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.srv.Listener = l
	c.srv.EnableHTTP2 = http2
	c.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			c.opened.Add(1)
			n := c.active.Add(1)
			for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			c.active.Add(-1)
		}
	}
	c.srv.StartTLS()
	t.Cleanup(c.srv.Close)
	return c
}

// client is a Client through NewTransport(conns) that trusts the server.
func (c *connCounter) client(conns int) *Client {
	transport := NewTransport(conns)
	transport.TLSClientConfig = c.srv.Client().Transport.(*http.Transport).TLSClientConfig
	return New(Options{BaseURL: c.srv.URL, SMSID: "s0", HTTPClient: &http.Client{Transport: transport, Timeout: 10 * time.Second}})
}

// sendConcurrently sends each SMS from each of senders at once and fails
// t on any error.
func sendConcurrently(t *testing.T, c *Client, senders, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if err := c.SendSMS(context.Background(), SMS{Recipient: "+4915100000001", Message: fmt.Sprint(i, j)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestTransportReusesConnections: concurrent sends share as many TLS
// connections as there are senders, however many SMS they send, and never
// more than the transport's bound.
func TestTransportReusesConnections(t *testing.T) {
	srv := newConnCounter(t, false)
	const senders, each, bound = 10, 50, 6
	sendConcurrently(t, srv.client(bound), senders, each)
	if n := srv.opened.Load(); n > bound {
		t.Errorf("%d connections opened for %d SMS from %d senders, want at most %d", n, senders*each, senders, bound)
	}
	if p := srv.peak.Load(); p > bound {
		t.Errorf("%d connections open at once, want at most %d", p, bound)
	}
	if n := srv.wrongProtocol.Load(); n > 0 {
		t.Errorf("%d requests not over HTTP/1.1", n)
	}
}

// TestTransportSpeaksHTTP2WhenOffered: where sipgate offers HTTP/2, every
// send goes over it, and concurrent sends share the one connection that
// the first opened.
func TestTransportSpeaksHTTP2WhenOffered(t *testing.T) {
	srv := newConnCounter(t, true)
	c := srv.client(6)
	if err := c.SendSMS(context.Background(), SMS{Recipient: "+4915100000001", Message: "first"}); err != nil {
		t.Fatal(err)
	}
	const senders, each = 10, 50
	sendConcurrently(t, c, senders, each)
	if n := srv.wrongProtocol.Load(); n > 0 {
		t.Errorf("%d of %d requests not over HTTP/2", n, senders*each+1)
	}
	if n := srv.opened.Load(); n != 1 {
		t.Errorf("%d connections opened for %d SMS over HTTP/2, want 1", n, senders*each+1)
	}
}
