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

// TestTransportReusesConnections: concurrent sends share as many TLS
// connections as there are senders, however many SMS they send, and never
// more than the transport's bound.
func TestTransportReusesConnections(t *testing.T) {
	var opened, active, peak atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Listener.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			active.Add(-1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	const senders, each, bound = 10, 50, 6
	transport := NewTransport(bound)
	transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := New(Options{BaseURL: srv.URL, SMSID: "s0", HTTPClient: &http.Client{Transport: transport, Timeout: 10 * time.Second}})
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
	if n := opened.Load(); n > bound {
		t.Errorf("%d connections opened for %d SMS from %d senders, want at most %d", n, senders*each, senders, bound)
	}
	if p := peak.Load(); p > bound {
		t.Errorf("%d connections open at once, want at most %d", p, bound)
	}
}
