package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// slowClient sends a webhook request's headers and then its body at one
// byte a second, as a client that means to hold a connection might.
type slowClient struct {
	conn net.Conn
	// sent is when the headers were written.
	sent time.Time
	stop chan struct{}
	once sync.Once
}

// dialSlow connects to addr and sends the headers of a webhook whose body
// is 1 MiB, with the stack's credentials when auth is set, then its body
// a byte a second until the connection breaks or close is called.
func dialSlow(t *testing.T, addr string, auth bool) *slowClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &slowClient{conn: conn, stop: make(chan struct{})}
	t.Cleanup(c.close)
	var head strings.Builder
	fmt.Fprintf(&head, "POST /api/v1/alerts HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", addr, 1<<20)
	if auth {
		req, _ := http.NewRequest(http.MethodPost, "/", nil)
		req.SetBasicAuth("am", hookPW)
		fmt.Fprintf(&head, "Authorization: %s\r\n", req.Header.Get("Authorization"))
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	c.sent = time.Now()
	go c.dribble()
	return c
}

// dribble writes a byte of the body now and one every second after:
// white space, which a JSON decoder takes as the start of a valid body and
// waits for more.
func (c *slowClient) dribble() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := c.conn.Write([]byte(" ")); err != nil {
			return
		}
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
	}
}

func (c *slowClient) close() {
	c.once.Do(func() {
		close(c.stop)
		c.conn.Close()
	})
}

// cutOff reads what the service answers and waits for it to close the
// connection, until timeout after the headers were sent. It returns the
// status answered, 0 when the connection closed without an answer, and
// when after the headers it closed; an error when it was still open at the
// timeout.
func (c *slowClient) cutOff(timeout time.Duration) (status int, after time.Duration, err error) {
	defer c.close()
	if err := c.conn.SetReadDeadline(c.sent.Add(timeout)); err != nil {
		return 0, 0, err
	}
	br := bufio.NewReader(c.conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if closed(err) {
			return 0, time.Since(c.sent), nil
		}
		return 0, time.Since(c.sent), fmt.Errorf("no answer and still open %v after the headers: %w", timeout, err)
	}
	// The answer is short: read it, then the connection must end.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil {
		_, err = br.ReadByte()
	}
	if !closed(err) {
		return resp.StatusCode, time.Since(c.sent), fmt.Errorf("answered %s, then the connection stayed open: %v", resp.Status, err)
	}
	return resp.StatusCode, time.Since(c.sent), nil
}

// closed reports whether a read error means that the other side closed
// the connection: an end of stream, or a reset because the client was
// still sending.
func closed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// TestSlowClientsAreCutOff sends webhook bodies at a byte a second: a
// client without credentials gets 401 at once and its connection closed;
// one with credentials is cut off (503, or closed) about webhook.timeout
// after its headers; 300 at once are all cut off, and leave no goroutines
// behind in the service.
func TestSlowClientsAreCutOff(t *testing.T) {
	const timeout = 4 * time.Second
	s := startStackWith(t, stackOptions{routes: defaultRoutes, webhookTimeout: timeout})
	// slack is how much later than promised a busy machine may cut a
	// connection off.
	const slack = 2 * time.Second

	t.Run("without credentials", func(t *testing.T) {
		c := dialSlow(t, s.svcAddr, false)
		// "At once" is well before the read timeout, which is what the
		// service would wait for if it read the body first.
		status, after, err := c.cutOff(timeout / 2)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusUnauthorized {
			t.Errorf("status %d after %v, want 401", status, after)
		}
		t.Logf("401 and closed %v after the headers", after.Round(time.Millisecond))
	})

	t.Run("with credentials", func(t *testing.T) {
		c := dialSlow(t, s.svcAddr, true)
		status, after, err := c.cutOff(timeout + slack)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusServiceUnavailable && status != 0 {
			t.Errorf("status %d after %v, want 503 or the connection closed", status, after)
		}
		t.Logf("status %d and closed %v after the headers", status, after.Round(time.Millisecond))
	})

	t.Run("300 at once", func(t *testing.T) {
		goroutines := func() float64 { return s.metrics(t).sum("go_goroutines", nil) }
		baseline := goroutines()
		clients := make([]*slowClient, 300)
		for i := range clients {
			clients[i] = dialSlow(t, s.svcAddr, true)
		}
		type result struct {
			status int
			after  time.Duration
			err    error
		}
		results := make([]result, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				status, after, err := c.cutOff(timeout + slack)
				results[i] = result{status, after, err}
			})
		}
		// The peak is for the log: it shows the connections were held.
		peak := goroutines()
		wg.Wait()
		byStatus := map[int]int{}
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("client %d: %v", i, r.err)
			case r.status != 0 && r.status != http.StatusServiceUnavailable:
				t.Errorf("client %d: status %d, want 503 (too slow, or too many in flight) or the connection closed", i, r.status)
			}
			byStatus[r.status]++
		}
		t.Logf("answers by status (0: closed without one): %v; %v goroutines before, %v while connected", byStatus, baseline, peak)

		// Each connection's goroutine ends soon after the connection.
		var now float64
		eventually(t, 10*time.Second, "the service's goroutines back near the baseline", func() bool {
			now = goroutines()
			return now <= baseline+10
		})
		t.Logf("%v goroutines after the cut-off", now)
	})
}

// TestReceiverLabelIsBounded posts 200 webhooks with distinct made-up
// receiver names: the service answers each, and the receiver label of
// webhooks_received_total takes only the configured receiver and
// "other". Nobody is paged about them.
func TestReceiverLabelIsBounded(t *testing.T) {
	s := startStack(t, `
unmatched: {report: true}
routes:
  - name: sms
    receiver: sms
    to: [alice]
`, 0)
	fixture := readFixture(t)
	withReceiver := func(receiver, group string) []byte {
		b := bytes.Replace(fixture, []byte(`"receiver":"sms-bridge"`), []byte(`"receiver":`+strconv.Quote(receiver)), 1)
		return bytes.Replace(b, []byte(`"groupKey":"`), []byte(`"groupKey":"`+group), 1)
	}
	if !bytes.Contains(fixture, []byte(`"receiver":"sms-bridge"`)) {
		t.Fatal("the fixture's receiver is not sms-bridge")
	}

	if code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", withReceiver("sms", "real"), true); code != http.StatusOK {
		t.Fatalf("webhook of receiver sms: %d %q", code, answer)
	}
	// Every way a request with a made-up receiver can go: its alerts match
	// no route (reported, not paged), unauthorized, invalid, pinned to a
	// route that does not exist (which falls back to matching).
	want := map[string]float64{"sms 200": 1}
	for i := range 200 {
		name := fmt.Sprintf("bogus-%03d", i)
		body := withReceiver(name, name)
		var code int
		switch i % 4 {
		case 0:
			code, _ = s.postWebhook(t, "/api/v1/alerts", "application/json", body, true)
		case 1:
			code, _ = s.postWebhook(t, "/api/v1/alerts", "application/json", body, false)
		case 2:
			code, _ = s.postWebhook(t, "/api/v1/alerts", "application/json", bytes.Replace(body, []byte(`"version":"4"`), []byte(`"version":"0"`), 1), true)
		case 3:
			code, _ = s.postWebhook(t, "/api/v1/alerts/"+name, "application/json", body, true)
		}
		want[fmt.Sprintf("other %d", code)]++
	}

	m := s.metrics(t)
	got := map[string]float64{}
	for _, sample := range m.samples {
		if sample.Metric["__name__"] == "alertmanager_sipgate_webhooks_received_total" {
			got[fmt.Sprintf("%s %s", sample.Metric["receiver"], sample.Metric["code"])] += float64(sample.Value)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("webhooks_received_total by receiver and code = %v, want %v", got, want)
	}
	if strings.Contains(m.text, "bogus") {
		t.Errorf("a made-up receiver name appears in /metrics")
	}
	if n := len(s.fake.Messages()); n != 1 {
		t.Errorf("%d SMS, want 1: of the webhook of receiver sms", n)
	}
	t.Logf("/metrics is %d bytes, webhooks_received_total has %d series: %v", len(m.text), len(got), got)
}

// maxSizeWebhooks are n webhook bodies of receiver sms, each of its own
// group, as large as fits in limit bytes, of the alerts alert(i) writes as
// JSON. The alerts are written once, then made each body's own by their
// alertname and start (which alert must name BigBody and start at
// 2026-11-24T22:12:02.020447644Z, if at all).
func maxSizeWebhooks(n, limit int, alert func(i int) string) [][]byte {
	heads := make([]string, n)
	longest := 0
	for i := range heads {
		heads[i] = fmt.Sprintf(`{"version":"4","groupKey":"{}:{group=\"%d\"}","truncatedAlerts":0,"status":"firing","receiver":"sms",`+
			`"groupLabels":{"alertname":"BigBody"},"commonLabels":{"alertname":"BigBody"},"commonAnnotations":{},`+
			`"externalURL":"http://alertmanager.example:9093","alerts":[`, i)
		longest = max(longest, len(heads[i]))
	}
	const tail = "]}"
	var alerts bytes.Buffer
	for i := 0; ; i++ {
		a := alert(i)
		if i > 0 {
			a = "," + a
		}
		if longest+alerts.Len()+len(a)+len(tail) > limit {
			break
		}
		alerts.WriteString(a)
	}
	bodies := make([][]byte, n)
	for i, head := range heads {
		// Alerts of their own in each body, at the same length: a body
		// whose alerts another had paged would tell nothing new, and
		// send nothing.
		own := bytes.ReplaceAll(alerts.Bytes(), []byte(`"BigBody"`), fmt.Appendf(nil, `"BigB%03d"`, i))
		own = bytes.ReplaceAll(own, []byte(`02.020447644Z`), fmt.Appendf(nil, `02.020447%03dZ`, i))
		bodies[i] = slices.Concat([]byte(head), own, []byte(tail))
	}
	return bodies
}

// TestConcurrentMaxSizeWebhooksMemory posts 8 webhooks of the largest body
// allowed (4 MiB) at once to a fresh service, of alerts the size of real
// ones and of the tiniest alerts, whose bodies hold the most. Each is
// paged, and the service's resident memory never exceeds 300 MB.
func TestConcurrentMaxSizeWebhooksMemory(t *testing.T) {
	const (
		maxBody = 4 << 20 // webhook.max_body_bytes, the default
		// maxRSS is the bound for 8 concurrent maximum-size
		// webhooks; it is a resource bound, not a timing.
		maxRSS = 300 << 20
	)
	for _, tc := range []struct {
		name  string
		alert func(i int) string
	}{
		{"real-sized alerts", func(i int) string {
			return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"BigBody","instance":"node-%06d:9100","job":"node-exporter",`+
				`"severity":"warning","team":"platform","cluster":"eu-central-prod-1","namespace":"monitoring","device":"/dev/nvme0n1p1",`+
				`"mountpoint":"/var/lib/containerd"},"annotations":{"summary":"disk filling up","description":"Filesystem /var/lib/containerd `+
				`on node-%06d:9100 has less than 5%% space left and will be full within 4 hours.","runbook_url":"https://runbooks.example.com/node/NodeFilesystemFull"},`+
				`"startsAt":"2026-11-24T22:12:02.020447644Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%%3C+0.05","fingerprint":"%016x"}`,
				i, i, i)
		}},
		{"tiny alerts", func(i int) string {
			return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"BigBody","i":"%d"}}`, i)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A service of its own: the peak is of these 8 webhooks alone.
			s := startStackWith(t, stackOptions{
				routes: "routes: [{name: sms, to: [alice]}]\n",
				// Time for 8 bodies to be decoded and paged on 2 busy cores.
				webhookTimeout: 8 * time.Second,
			})
			bodies := maxSizeWebhooks(8, maxBody, tc.alert)
			codes := make([]int, len(bodies))
			answers := make([]string, len(bodies))
			var wg sync.WaitGroup
			for i, body := range bodies {
				wg.Go(func() { codes[i], answers[i] = s.postWebhook(t, "/api/v1/alerts", "application/json", body, true) })
			}
			wg.Wait()
			for i, code := range codes {
				if code != http.StatusOK {
					t.Errorf("%s: webhook %d of %d bytes: %d %q, want 200", tc.name, i, len(bodies[i]), code, answers[i])
				}
			}
			rss := s.service.peakRSS(t)
			t.Logf("%s: 8 bodies of %d bytes: peak RSS %d MB", tc.name, len(bodies[0]), rss>>20)
			if rss > maxRSS {
				t.Errorf("%s: peak RSS %d MB, want at most %d MB", tc.name, rss>>20, maxRSS>>20)
			}
			if n := len(s.fake.Messages()); n != len(bodies) {
				t.Errorf("%d SMS, want %d: one for each webhook", n, len(bodies))
			}
		})
	}
}

// TestAlertsInFlightBoundTheMemoryOfAStorm: twice as many maximum-size
// webhooks of tiny alerts at once as webhook.max_alerts_in_flight has
// room for (16 of 20,000 kept alerts each, room for 160,000) hold about
// what the 8 it has room for hold: those that run out of room are
// answered 503, and each is paged once retried, as Alertmanager retries a
// 503. The heap is what is measured (anonymous RSS): the ledger's
// file pages grow with the alerts paged, not with how many are paged at
// once.
func TestAlertsInFlightBoundTheMemoryOfAStorm(t *testing.T) {
	const (
		maxBody = 4 << 20
		// maxAnon is a resource bound, not a timing: 8 such webhooks
		// held 187 MB, 16 held 197–219 MB with the bound and 329–348
		// MB without it.
		maxAnon = 275 << 20
	)
	s := startStackWith(t, stackOptions{
		routes:         "routes: [{name: sms, to: [alice]}]\n",
		webhookTimeout: 8 * time.Second,
	})
	bodies := maxSizeWebhooks(16, maxBody, func(i int) string {
		return fmt.Sprintf(`{"status":"firing","labels":{"alertname":"BigBody","i":"%d"}}`, i)
	})
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { peak <- s.service.peakAnonymousRSS(t, stop) }()
	var wg sync.WaitGroup
	var refused atomic.Int64
	deadline := time.Now().Add(3 * time.Minute)
	for i, body := range bodies {
		wg.Go(func() {
			for {
				code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", body, true)
				if code == http.StatusOK {
					return
				}
				// Alertmanager retries every 503: too much in flight, or
				// paging cut short by webhook.timeout on busy cores.
				if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
					t.Errorf("webhook %d: %d %q, want 200, or 503 and a retry", i, code, answer)
					return
				}
				if strings.Contains(answer, "in flight") {
					refused.Add(1)
				}
				time.Sleep(50 * time.Millisecond) // a client's backoff, as Alertmanager's
			}
		})
	}
	wg.Wait()
	close(stop)
	anon := <-peak
	t.Logf("%d bodies of %d bytes: peak anonymous RSS %d MB, peak RSS %d MB, %d answers of 503",
		len(bodies), len(bodies[0]), anon>>20, s.service.peakRSS(t)>>20, refused.Load())
	if anon > maxAnon {
		t.Errorf("peak anonymous RSS %d MB, want at most %d MB", anon>>20, maxAnon>>20)
	}
	if n := len(s.fake.Messages()); n != len(bodies) {
		t.Errorf("%d SMS, want %d: one for each webhook", n, len(bodies))
	}
}
