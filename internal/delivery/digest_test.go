package delivery

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

func TestDigestText(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// The fake clock stands at Nov 25 03:12 UTC.
	today := time.Date(2026, 11, 25, 2, 21, 0, 0, time.UTC)
	long := strings.Repeat("VeryLongAlertName", 3)
	for _, tc := range []struct {
		name string
		loc  *time.Location
		s    ledger.Suppressed
		want string
	}{
		{
			name: "firing and resolved counted apart, with names",
			s:    ledger.Suppressed{Alerts: 2, Resolved: 1, Names: []string{"HighCPU", "TargetDown"}, Since: today, URL: "http://am:9093"},
			want: "Held back since 02:21 UTC: 2 firing (HighCPU, TargetDown), 1 resolved. http://am:9093",
		},
		{
			name: "only resolved",
			s:    ledger.Suppressed{Resolved: 3, Since: today, URL: "http://am:9093"},
			want: "Held back since 02:21 UTC: 3 resolved. http://am:9093",
		},
		{
			name: "no link",
			s:    ledger.Suppressed{Alerts: 1, Names: []string{"DiskFull"}, Since: today},
			want: "Held back since 02:21 UTC: 1 firing (DiskFull).",
		},
		{
			name: "names beyond the ledger's bound counted",
			s:    ledger.Suppressed{Alerts: 9, Names: []string{"A", "B", "C", "D", "E"}, MoreNames: 2, Since: today, URL: "http://am:9093"},
			want: "Held back since 02:21 UTC: 9 firing (A, B, C, D, E, +2 more). http://am:9093",
		},
		{
			name: "names give way to fit one segment, last first",
			s:    ledger.Suppressed{Alerts: 5, Resolved: 2, Names: []string{long + "1", long + "2", long + "3", long + "4"}, Since: today, URL: "http://alertmanager.example.com:9093"},
			want: "Held back since 02:21 UTC: 5 firing (" + long + "1, +3 more), 2 resolved. http://alertmanager.example.com:9093",
		},
		{
			name: "no name fits: the counts, time and link stay",
			s:    ledger.Suppressed{Alerts: 5, Names: []string{strings.Repeat("X", 150)}, Since: today, URL: "http://am:9093"},
			want: "Held back since 02:21 UTC: 5 firing. http://am:9093",
		},
		{
			name: "names transliterated to stay GSM-7",
			s:    ledger.Suppressed{Alerts: 2, Names: []string{"ДискПолон", "HighCPU"}, Since: today},
			want: "Held back since 02:21 UTC: 2 firing (DiskPolon, HighCPU).",
		},
		{
			name: "a name that would turn into '?' is only counted",
			s:    ledger.Suppressed{Alerts: 2, Names: []string{"磁盘已满", "HighCPU"}, Since: today},
			want: "Held back since 02:21 UTC: 2 firing (HighCPU, +1 more).",
		},
		{
			name: "an earlier day has its date",
			s:    ledger.Suppressed{Alerts: 1, Since: time.Date(2026, 11, 24, 12, 21, 0, 0, time.UTC)},
			want: "Held back since Nov 24 12:21 UTC: 1 firing.",
		},
		{
			name: "the configured zone, named (winter)",
			loc:  berlin,
			s:    ledger.Suppressed{Alerts: 1, Since: today},
			want: "Held back since 03:21 CET: 1 firing.",
		},
		{
			name: "the configured zone, named (summer), the date in that zone",
			loc:  berlin,
			s:    ledger.Suppressed{Alerts: 1, Since: time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC)},
			want: "Held back since Jul 2 00:30 CEST: 1 firing.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.loc != nil {
				f.with(func(o *Options) { o.Location = func() *time.Location { return tc.loc } })
			}
			got := f.d.digestText(tc.s)
			if got != tc.want {
				t.Errorf("digest\n got %q\nwant %q", got, tc.want)
			}
			if size := sms.Measure(got); size.Segments != 1 || size.Encoding != sms.GSM7 {
				t.Errorf("digest costs %+v, want one GSM-7 segment", size)
			}
		})
	}
}

func TestDigestCountsFiringAndResolvedApart(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Minute})
	ctx := context.Background()
	const number = "+4915100000001"
	batch := []Message{
		{Key: "a/" + number, Route: "r", Contact: "alice", Number: number, Text: "first", Alerts: 1, Firing: 1, Names: []string{"Sent"}},
		{Key: "b/" + number, Route: "r", Contact: "alice", Number: number, Text: "held 1", Alerts: 3, Firing: 2, Resolved: 1, Names: []string{"HighCPU", "TargetDown"}},
		{Key: "c/" + number, Route: "r", Contact: "alice", Number: number, Text: "held 2", Alerts: 2, Firing: 1, Resolved: 1, Names: []string{"HighCPU"}},
	}
	// One at a time, so that the first is the one sent.
	for _, m := range batch {
		if err := f.deliver(ctx, []Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(time.Minute)
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	got := f.fake.Messages()
	want := "Held back since 03:12 UTC: 3 firing (HighCPU, TargetDown), 2 resolved. http://am:9093"
	if len(got) != 2 || got[1].Message != want {
		t.Fatalf("messages = %+v, want the digest %q second", got, want)
	}
}

func TestDigestNamesAreCapped(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Minute})
	ctx := context.Background()
	const number = "+4915100000001"
	if err := f.deliver(ctx, msgs("first", number)); err != nil {
		t.Fatal(err)
	}
	names := []string{"A", "B", "C", "D", "E", "F", "G", "A", "F"}
	for i, name := range names {
		m := Message{Key: "k" + string(rune('a'+i)) + "/" + number, Route: "r", Contact: "alice", Number: number, Text: "held", Alerts: 1, Firing: 1, Names: []string{name}}
		if err := f.deliver(ctx, []Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := f.ledger.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if p := pending[number]; len(p.Names) != ledger.MaxNames || p.Alerts != len(names) {
		t.Fatalf("pending = %+v, want %d names kept and %d firing", p, ledger.MaxNames, len(names))
	}
	f.clock.Advance(time.Minute)
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	got := f.fake.Messages()
	// F counted twice: the ledger keeps no names beyond its bound to tell.
	want := "Held back since 03:12 UTC: 9 firing (A, B, C, D, E, +3 more). http://am:9093"
	if len(got) != 2 || got[1].Message != want {
		t.Fatalf("messages = %+v, want the digest %q second", got, want)
	}
}

// TestDigestOfOldLedgerEntry checks that an entry written before firing
// and resolved were counted apart is digested, its alerts as firing.
func TestDigestOfOldLedgerEntry(t *testing.T) {
	f := newFixture(t, ledger.Window{Max: 1, Per: time.Minute})
	const number = "+4915100000001"
	if err := f.ledger.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(f.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := json.Marshal(map[string]any{"contact": "alice", "alerts": 4, "since": time.Date(2026, 11, 24, 23, 5, 0, 0, time.UTC), "url": "http://am:9093"})
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("suppressed")).Put([]byte(number), old)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Open(f.path, ledger.Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	f.ledger = led
	f.with(func(o *Options) { o.Ledger = led })

	if err := f.d.SendDigests(context.Background(), time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	got := f.fake.Messages()
	want := "Held back since Nov 24 23:05 UTC: 4 firing. http://am:9093"
	if len(got) != 1 || got[0].Message != want {
		t.Fatalf("messages = %+v, want %q", got, want)
	}
	if pending, _ := led.Pending(); len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
}

// TestDigestsOfAStormAreNotStarved: while a storm keeps holding alerts back
// for everyone, each digest is read right before it is sent, so the
// digests sent first do not leave the later ones changed under the call,
// and composed again at every check, for good.
func TestDigestsOfAStormAreNotStarved(t *testing.T) {
	const a, b = "+4915100000001", "+4915100000002"
	f := newFixture(t)
	var toB atomic.Int32
	f.with(func(o *Options) {
		o.Sender = senderFunc(func(_ context.Context, m sipgate.SMS) error {
			if m.Recipient == b {
				toB.Add(1)
			}
			for _, n := range []string{a, b} {
				if err := f.ledger.Suppress(n, ledger.Suppressed{Contact: "c", Alerts: 1, Names: []string{"Storm"}}); err != nil {
					t.Error(err)
				}
			}
			return nil
		})
	})
	for _, n := range []string{a, b} {
		if err := f.ledger.Suppress(n, ledger.Suppressed{Contact: "c", Alerts: 1, Names: []string{"Storm"}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := f.d.SendDigests(context.Background(), time.Second, f.limits); err != nil {
			t.Fatal(err)
		}
	}
	if n := toB.Load(); n == 0 {
		t.Error("b got no digest in three checks while the storm went on")
	}
}

// TestShutdownLetsTheDigestUnderWayFinish: a shutdown during a digest's
// send lets that send hear its answer, within its own timeout, instead of
// cutting it off and leaving it in doubt, which the next start settles
// from the history or by sending it again. No further digest begins.
func TestShutdownLetsTheDigestUnderWayFinish(t *testing.T) {
	const a, b = "+4915100000001", "+4915100000002"
	f := newFixture(t)
	ctx, shutdown := context.WithCancel(context.Background())
	var sends atomic.Int32
	f.with(func(o *Options) {
		o.Sender = senderFunc(func(sendCtx context.Context, _ sipgate.SMS) error {
			sends.Add(1)
			shutdown() // SIGTERM while sipgate takes it
			select {
			case <-sendCtx.Done():
				return lost{} // cut off after the request went out
			case <-time.After(20 * time.Millisecond):
				return nil
			}
		})
	})
	for _, n := range []string{a, b} {
		if err := f.ledger.Suppress(n, ledger.Suppressed{Contact: "c", Alerts: 1, Names: []string{"TargetDown"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.d.SendDigests(ctx, time.Second, f.limits); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := f.ledger.DigestsInDoubt(); len(doubts) != 0 {
		t.Errorf("in doubt after the shutdown: %+v; want the digest under way settled by its answer", doubts)
	}
	if n := sends.Load(); n != 1 {
		t.Errorf("%d digests sent; want the one under way alone", n)
	}
}
