package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

func TestServerTimeouts(t *testing.T) {
	tests := []struct {
		webhook time.Duration
		want    timeouts
	}{
		{9 * time.Second, timeouts{readHeader: 5 * time.Second, read: 9 * time.Second, write: 23 * time.Second, idle: time.Minute}},
		{2 * time.Second, timeouts{readHeader: 2 * time.Second, read: 2 * time.Second, write: 9 * time.Second, idle: time.Minute}},
		{time.Minute, timeouts{readHeader: 5 * time.Second, read: time.Minute, write: 125 * time.Second, idle: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.webhook.String(), func(t *testing.T) {
			got := serverTimeouts(tt.webhook)
			if got != tt.want {
				t.Errorf("serverTimeouts(%v) = %+v, want %+v", tt.webhook, got, tt.want)
			}
			// An answer that paging earned is never cut off by the write
			// timeout, which runs from the end of the headers.
			if got.write <= got.read-got.readHeader+tt.webhook {
				t.Errorf("write timeout %v leaves no room to read the body and page for %v", got.write, tt.webhook)
			}
		})
	}
}

// okNotifier pages nobody and succeeds, after taking its time.
type okNotifier struct{ takes time.Duration }

func (n okNotifier) Notify(ctx context.Context, _ *notification.Notification, _ string) error {
	select {
	case <-time.After(n.takes):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startWebhook serves the webhook with a bearer token on 127.0.0.1 with
// these timeouts and returns its address.
func startWebhook(t *testing.T, to timeouts) string {
	return startWebhookPaging(t, to, 0)
}

// startWebhookPaging is startWebhook with a notifier that takes this long.
func startWebhookPaging(t *testing.T, to timeouts, takes time.Duration) string {
	t.Helper()
	h := receiver.New(okNotifier{takes: takes}, receiver.Options{
		MaxBodyBytes: 4 << 20,
		Timeout:      time.Minute,
		MaxInFlight:  4,
		BearerToken:  "tok",
		Metrics:      metrics.New(prometheus.NewRegistry()),
		Logger:       slog.New(slog.DiscardHandler),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(h, to)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// readUntilClosed reads what the server sends until it closes the
// connection, and fails the test if it is still open at the deadline.
func readUntilClosed(t *testing.T, conn net.Conn, deadline time.Duration) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err := io.Copy(&got, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v; read %q", deadline, got.String())
	}
	// EOF or a reset: either way the server has let go.
	return got.String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func headers(auth string) string {
	h := "POST /api/v1/alerts HTTP/1.1\r\nHost: sms\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
	if auth != "" {
		h += "Authorization: " + auth + "\r\n"
	}
	return h + "\r\n"
}

// TestSlowClientsCutOff: the server closes the connection of a client that
// sends its body a byte at a time, or nothing at all, within its timeouts.
// Without them, both would hold the connection until the test's deadline.
func TestSlowClientsCutOff(t *testing.T) {
	addr := startWebhook(t, serverTimeouts(200*time.Millisecond))

	t.Run("body a byte at a time", func(t *testing.T) {
		conn := dial(t, addr)
		if _, err := io.WriteString(conn, headers("Bearer tok")+"{"); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			// The client's pace: a byte every 20 ms, never finishing.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := io.WriteString(conn, " "); err != nil {
						return
					}
				}
			}
		}()
		got := readUntilClosed(t, conn, 10*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 503 ") {
			t.Errorf("answer = %q, want 503, which Alertmanager retries", got)
		}
	})

	t.Run("silent", func(t *testing.T) {
		conn := dial(t, addr)
		if got := readUntilClosed(t, conn, 10*time.Second); got != "" {
			t.Errorf("answer = %q, want none", got)
		}
	})
}

// TestUnauthenticatedClientLetGo: a client without credentials gets its
// 401 right after the headers, and the connection is closed without
// waiting for a body it is slow to send. The server's timeouts are an hour
// here, so only that answer can end the connection before the deadline.
func TestUnauthenticatedClientLetGo(t *testing.T) {
	hour := timeouts{readHeader: time.Hour, read: time.Hour, write: time.Hour, idle: time.Hour}
	addr := startWebhook(t, hour)
	for _, auth := range []string{"", "Bearer wrong"} {
		t.Run("auth "+auth, func(t *testing.T) {
			conn := dial(t, addr)
			// A byte of the body, then nothing more.
			if _, err := io.WriteString(conn, headers(auth)+"{"); err != nil {
				t.Fatal(err)
			}
			got := readUntilClosed(t, conn, 10*time.Second)
			if !strings.HasPrefix(got, "HTTP/1.1 401 ") || !strings.Contains(got, "\r\nConnection: close\r\n") {
				t.Errorf("answer = %q, want 401 closing the connection", got)
			}
		})
	}
}

// TestAnswerAfterReadTimeout: paging may go on past the read timeout, and
// its answer still reaches Alertmanager.
func TestAnswerAfterReadTimeout(t *testing.T) {
	webhook := 100 * time.Millisecond
	// Paging takes three read timeouts, within the webhook timeout the
	// write timeout allows for (the receiver's own is a minute here).
	addr := startWebhookPaging(t, serverTimeouts(webhook), 3*webhook)
	body, err := os.ReadFile("../../receiver/testdata/webhook-firing-2-alerts.json")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/alerts", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("code = %d (%s), want 200", resp.StatusCode, b)
	}
}
