package delivery

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

// events collects what Observe is told, from concurrent sends.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) observe(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

// take returns the events so far, sorted by route and number, and forgets
// them.
func (e *events) take() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	slices.SortFunc(out, func(a, b Event) int {
		return strings.Compare(a.Route+a.Number+a.Outcome.String(), b.Route+b.Number+b.Outcome.String())
	})
	return out
}

func TestObserveTellsEachOutcome(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Hour})
	seen := &events{}
	f.with(func(o *Options) { o.Observe = seen.observe })
	f.fake.FailRecipient("+4915100000002", 402)
	ctx := context.Background()
	batch := []Message{
		{Key: "n/a", Route: "r", Contact: "alice", Number: "+4915100000001", Text: "first", Severity: 0, Alerts: 1},
		{Key: "n/a2", Route: "r", Contact: "alice", Number: "+4915100000001", Text: "second", Severity: 1, Alerts: 1},
		{Key: "n/b", Route: "r", Contact: "bob", Number: "+4915100000002", Text: "to bob", Alerts: 1},
	}
	if err := f.deliver(ctx, batch); err != nil {
		t.Fatal(err)
	}
	at := f.clock.Now()
	want := []Event{
		{At: at, Notification: "n-test", Route: "r", Contact: "alice", Number: "+49151******01", Outcome: Accepted},
		{At: at, Notification: "n-test", Route: "r", Contact: "alice", Number: "+49151******01", Outcome: Suppressed},
		{At: at, Notification: "n-test", Route: "r", Contact: "bob", Number: "+49151******02", Outcome: FailedPermanent, Reason: "balance"},
	}
	if got := seen.take(); !slices.Equal(got, want) {
		t.Errorf("first delivery: observed\n%+v\nwant\n%+v", got, want)
	}

	// A retry of the same notification: each told again, as delivered
	// before.
	if err := f.deliver(ctx, batch[:1]); err != nil {
		t.Fatal(err)
	}
	if got := seen.take(); len(got) != 1 || got[0].Outcome != Deduplicated {
		t.Errorf("retry: observed %+v, want one deduplicated", got)
	}

	// The digest, once the window lets alice have one again.
	f.clock.Advance(time.Hour + time.Second)
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	want = []Event{{At: f.clock.Now(), Route: "digest", Contact: "alice", Number: "+49151******01", Outcome: Accepted}}
	if got := seen.take(); !slices.Equal(got, want) {
		t.Errorf("digest: observed %+v, want %+v", got, want)
	}
}

func TestObserveUnset(t *testing.T) {
	// Without Observe, delivery works as before.
	f := newFixture(t)
	if err := f.deliver(context.Background(), msgs("n1", "+4915100000001")); err != nil {
		t.Fatal(err)
	}
	if n := f.count("r", Accepted.String()); n != 1 {
		t.Errorf("accepted = %d, want 1", n)
	}
}
