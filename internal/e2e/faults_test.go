package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// people is how many persons the fault tests page with one notification.
const people = 10

// peopleNumbers are the numbers of the persons p01 to p10.
func peopleNumbers() []string {
	numbers := make([]string, people)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+49151000010%02d", i+1)
	}
	return numbers
}

// peopleOptions is a stack whose one route pages the ten persons p01 to
// p10 with one Alertmanager in front, concurrency sends at a time, a
// sipgate answer counted as lost after sipgateTimeout, and unknown
// outcomes looked up a second after the send and sent again at most once
// (the default, written out). The other timeouts fit Alertmanager's:
// webhook.timeout 3s leaves time for the grace period within one request,
// and Alertmanager retries within its flush deadline of 10 s.
func peopleOptions(sipgateTimeout time.Duration, concurrency int) stackOptions {
	var contacts, names []string
	for i, n := range peopleNumbers() {
		names = append(names, fmt.Sprintf("p%02d", i+1))
		contacts = append(contacts, fmt.Sprintf("%s: {number: %q}", names[i], n))
	}
	return stackOptions{
		routes: fmt.Sprintf(`
delivery:
  settle_after: 1s
  resend_unknown: 1
  concurrency: %d
routes:
  - name: all
    to: [%s]
`, concurrency, strings.Join(names, ", ")),
		alertmanagers:  1,
		webhookTimeout: 3 * time.Second,
		sipgate:        []string{fmt.Sprintf("timeout: %s", sipgateTimeout)},
		contacts:       contacts,
	}
}

// pageAlert posts one critical alert named name to the Alertmanagers and
// returns the SMS text it pages with: the built-in template's, which links
// to the first Alertmanager's alerts of the receiver.
func (s *stack) pageAlert(t *testing.T, name string) string {
	t.Helper()
	s.postAlerts(t, amAlert{
		Labels:      map[string]string{"alertname": name, "instance": "db-1", "severity": "critical"},
		Annotations: map[string]string{"summary": "primary down"},
		// Now, so that Alertmanager waits group_wait before it notifies.
		StartsAt: time.Now().UTC(),
	})
	return fmt.Sprintf("FIRING 1 %s critical db-1: primary down Alerts: http://%s/#/alerts?receiver=sms", name, s.amAddr)
}

// checkPaged checks that each of numbers got text at least once and at
// most 1+maxExtra times, and that nothing else was sent. It returns how
// many SMS were sent beyond one per number.
func checkPaged(t *testing.T, msgs []sipgatetest.Message, numbers []string, text string, maxExtra int) (extra int) {
	t.Helper()
	got := map[string]int{}
	for _, m := range msgs {
		if m.Message != text {
			t.Errorf("SMS to %s: %q, want %q", m.Recipient, m.Message, text)
		}
		got[m.Recipient]++
	}
	for _, n := range numbers {
		switch c := got[n]; {
		case c == 0:
			t.Errorf("%s was not paged", n)
		case c > 1+maxExtra:
			t.Errorf("%s got %d SMS, want at most %d", n, c, 1+maxExtra)
		}
		if got[n] > 1 {
			extra += got[n] - 1
		}
		delete(got, n)
	}
	if len(got) > 0 {
		t.Errorf("SMS to numbers not paged: %v", got)
	}
	return extra
}

// TestUnknownOutcomeIsNotSentAgain pages ten persons through a real
// Alertmanager while sipgate takes each SMS but its answer never arrives:
// it comes after the client's timeout, or the connection is reset. While
// sipgate's history lists the SMS, nobody gets a second one; when the
// history cannot be read, at most one more per person.
func TestUnknownOutcomeIsNotSentAgain(t *testing.T) {
	const sipgateTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		// fault makes the fake take each SMS and lose its answer.
		fault func(*sipgatetest.Server)
		// historyForbidden makes the history unreadable.
		historyForbidden bool
	}{
		{"late answer, history lists it", func(f *sipgatetest.Server) { f.AnswerLate(4 * sipgateTimeout) }, false},
		{"late answer, history forbidden", func(f *sipgatetest.Server) { f.AnswerLate(4 * sipgateTimeout) }, true},
		{"reset after accept, history lists it", func(f *sipgatetest.Server) { f.ResetAfterAccept(true) }, false},
		{"reset after accept, history forbidden", func(f *sipgatetest.Server) { f.ResetAfterAccept(true) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStackWith(t, peopleOptions(sipgateTimeout, people))
			// The fault lasts the whole test: every send, first or again,
			// loses its answer. The history lists an SMS only a while after
			// it was taken, within the grace period.
			tc.fault(s.fake)
			s.fake.HistoryDelay(300 * time.Millisecond)
			s.fake.HistoryForbidden(tc.historyForbidden)
			text := s.pageAlert(t, "SipgateAnswerLost")

			// Without the history, the resends go one a second, as the
			// circuit to a sipgate whose answers are lost lets one probe
			// through a second: about 20 s for ten persons.
			s.waitNotifiedWithin(t, 1, 2*waitLong)
			maxExtra := 0
			if tc.historyForbidden {
				maxExtra = 1
			}
			extra := checkPaged(t, s.fake.Messages(), peopleNumbers(), text, maxExtra)

			m := s.metrics(t)
			found := m.sum("alertmanager_sipgate_sms_unknown_outcome_total", labels{"result": "found_in_history"})
			resent := m.sum("alertmanager_sipgate_sms_unknown_outcome_total", labels{"result": "resent"})
			givenUp := m.sum("alertmanager_sipgate_sms_unknown_outcome_total", labels{"result": "given_up"})
			t.Logf("%d extra SMS; unknown outcomes: %v found in the history, %v resent, %v given up; %d history requests",
				extra, found, resent, givenUp, s.fake.HistoryRequests())
			if tc.historyForbidden {
				// Each first send was taken: one resend each at most, which
				// is also of unknown outcome, and then given up. Each extra
				// SMS is a resend; a resend may not have arrived, such as one
				// written to a connection sipgate had already reset.
				if found != 0 || resent < float64(extra) || resent > people || givenUp != people {
					t.Errorf("unknown outcomes: %v found, %v resent, %v given up; want 0 found, %d to %d resent (at least the extra SMS), %d given up", found, resent, givenUp, extra, people, people)
				}
			} else if found != people || resent != 0 || givenUp != 0 {
				t.Errorf("unknown outcomes: %v found, %v resent, %v given up; want %d found", found, resent, givenUp, people)
			}
		})
	}
}

// TestKilledWhileSending kills the service (SIGKILL) while four of ten SMS
// of a page are sent and sipgate holds its answers, and starts it again on
// the same storage. Alertmanager's retry reaches the new process: the four
// SMS that may have gone out are settled from sipgate's history (none sent
// again) or, when the history cannot be read, sent again once; the six
// never begun are sent. Everyone is paged.
func TestKilledWhileSending(t *testing.T) {
	for _, tc := range []struct {
		name             string
		historyForbidden bool
	}{
		{"history lists them", false},
		{"history forbidden", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const inFlight = 4
			// sipgate.timeout is long, so the sends are still held when the
			// process dies.
			s := startStackWith(t, peopleOptions(10*time.Second, inFlight))
			s.fake.AnswerLate(time.Minute)
			s.fake.HistoryForbidden(tc.historyForbidden)
			text := s.pageAlert(t, "KilledWhileSending")

			eventually(t, waitLong, fmt.Sprintf("%d SMS held by sipgate", inFlight), func() bool { return s.fake.Held() >= inFlight })
			s.service.signal(t, syscall.SIGKILL)
			s.service.wait(t, 10*time.Second)
			if n := len(s.fake.Messages()); n != inFlight {
				t.Fatalf("sipgate took %d SMS before the kill, want %d", n, inFlight)
			}
			s.fake.AnswerLate(0)
			s.startService(t)

			s.waitAlertmanagersDone(t, 1)
			maxExtra := 0
			if tc.historyForbidden {
				maxExtra = 1
			}
			extra := checkPaged(t, s.fake.Messages(), peopleNumbers(), text, maxExtra)
			m := s.metrics(t)
			found := m.sum("alertmanager_sipgate_sms_unknown_outcome_total", labels{"result": "found_in_history"})
			resent := m.sum("alertmanager_sipgate_sms_unknown_outcome_total", labels{"result": "resent"})
			t.Logf("%d extra SMS; after the restart: %v found in the history, %v resent", extra, found, resent)
			want := struct{ found, resent float64 }{inFlight, 0}
			if tc.historyForbidden {
				want.found, want.resent = 0, inFlight
			}
			if found != want.found || resent != want.resent {
				t.Errorf("after the restart: %v found in the history, %v resent; want %v and %v", found, resent, want.found, want.resent)
			}
		})
	}
}

// TestSipgateDown keeps sipgate down (503) for 12 seconds while three
// groups page two persons each through a real Alertmanager: about one
// request per second reaches sipgate, and once it is up again every page
// goes out within seconds.
func TestSipgateDown(t *testing.T) {
	const outage = 12 * time.Second
	s := startStackWith(t, stackOptions{
		routes:        "routes: [{name: oncall, to: [oncall]}]\n",
		alertmanagers: 1,
		// Near the default (9s) and below Alertmanager's flush deadline
		// (10s): a request waits for the probes for most of that time, so
		// that one is there when sipgate is back.
		webhookTimeout: 8 * time.Second,
		sipgate:        []string{"timeout: 1s"},
	})
	s.fake.Down(http.StatusServiceUnavailable, "")
	down := time.Now()
	before := s.fake.Requests()
	var texts []string
	for _, name := range []string{"DownA", "DownB", "DownC"} {
		texts = append(texts, s.pageAlert(t, name))
	}
	eventually(t, waitLong, "the circuit to sipgate open", func() bool {
		return s.metrics(t).sum("alertmanager_sipgate_sipgate_circuit_open", nil) == 1
	})
	// The outage is the test's input, not something to wait for: it lasts
	// its time, or until the test is cancelled.
	select {
	case <-time.After(time.Until(down.Add(outage))):
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	during := s.fake.Requests() - before
	s.fake.Up()
	up := time.Now()
	lasted := up.Sub(down)

	msgs := s.waitSMS(t, 6)
	last := msgs[len(msgs)-1].Received.Sub(up)
	s.waitNotified(t, 3)
	m := s.metrics(t)
	t.Logf("%d requests reached sipgate in %v of outage; %v sends refused without calling it; every page out %v after sipgate came back",
		during, lasted.Round(time.Millisecond), m.sum("alertmanager_sipgate_sipgate_requests_refused_total", nil), last.Round(time.Millisecond))
	// One probe a second, plus the failures in a row that open the
	// circuit (5), plus slack for a busy machine.
	if limit := int(lasted/time.Second) + 5 + 3; during > limit {
		t.Errorf("%d requests reached sipgate during a %v outage, want at most %d (about one a second)", during, lasted.Round(time.Millisecond), limit)
	}
	// The service sends while Alertmanager asks: a request in flight
	// sends at the next probe (1 s); between two of Alertmanager's
	// notifications of a group there may be a gap of up to group_interval
	// (2s) and a backoff.
	if last > 6*time.Second {
		t.Errorf("the last page went out %v after sipgate came back, want within 6s", last.Round(time.Millisecond))
	}
	var want []string
	for _, text := range texts {
		want = append(want, alice+": "+text, bob+": "+text)
	}
	sort.Strings(want)
	assertLines(t, "SMS after the outage", received(s.fake.Messages()), want)
}

// TestRetryAfterIsHonoured makes sipgate answer the first SMS 429 with
// Retry-After: 2 while webhook.timeout is 1s: Alertmanager's retries
// reach the service within the 2 s, but no request reaches sipgate until
// they are over, and then the page goes out.
func TestRetryAfterIsHonoured(t *testing.T) {
	s := startStack(t, "routes: [{name: all, to: [alice]}]\n", 1)
	s.fake.FailNext(1, http.StatusTooManyRequests, "2")
	text := s.pageAlert(t, "RateLimited")
	msgs := s.waitSMS(t, 1)
	s.waitNotified(t, 1)
	assertLines(t, "SMS", received(s.fake.Messages()), []string{alice + ": " + text})

	arrivals := s.front.smsArrivals()
	if len(arrivals) != 2 {
		t.Fatalf("%d requests reached sipgate, want 2: the 429 and the SMS after it", len(arrivals))
	}
	gap := arrivals[1].Sub(arrivals[0])
	m := s.metrics(t)
	refused := m.sum("alertmanager_sipgate_sipgate_requests_refused_total", nil)
	answered503 := m.sum("alertmanager_sipgate_webhooks_received_total", labels{"code": "503"})
	t.Logf("second request %v after the 429; %v sends refused without calling sipgate; %v webhooks answered 503; SMS %v after the 429",
		gap.Round(time.Millisecond), refused, answered503, msgs[0].Received.Sub(arrivals[0]).Round(time.Millisecond))
	if gap < 2*time.Second {
		t.Errorf("the second request reached sipgate %v after the 429, want at least Retry-After: 2s", gap)
	}
	// The retries came within the 2 s and were turned away without
	// calling sipgate: else this test would not show what it claims.
	if answered503 < 1 || refused < 1 {
		t.Errorf("%v webhooks answered 503 and %v sends refused, want at least 1 each: no retry came within Retry-After", answered503, refused)
	}
}
