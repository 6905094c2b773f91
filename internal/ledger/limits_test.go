package ledger

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkWindows fails unless every window state counts exactly the sends
// of the log after its tail, in total and per recipient, and keeps no
// count for a recipient without such sends.
func checkWindows(t *testing.T, l *Ledger) {
	t.Helper()
	if err := l.db.View(func(tx *bolt.Tx) error {
		for _, w := range windows(tx) {
			want := map[string]uint64{}
			total := uint64(0)
			sendsBetween(tx, w.tail, time.Time{}, func(s string) { want[s]++; total++ })
			if w.total != total {
				t.Errorf("window %s: total %d, the log holds %d after its tail", w.per, w.total, total)
			}
			got := map[string]uint64{}
			c := tx.Bucket(bucketWindows).Cursor()
			for k, v := c.Seek([]byte("n")); k != nil && k[0] == 'n'; k, v = c.Next() {
				if number, per, ok := parseCountKey(k); ok && per == w.per {
					got[number] = decodeCount(v)
				}
			}
			for number, n := range want {
				if got[number] != n {
					t.Errorf("window %s: %s counted %d, the log holds %d", w.per, number, got[number], n)
				}
			}
			for number, n := range got {
				if want[number] == 0 {
					t.Errorf("window %s: %s counted %d, the log holds none", w.per, number, n)
				}
			}
		}
		// No recipient counts without their window's state.
		c := tx.Bucket(bucketWindows).Cursor()
		for k, _ := c.Seek([]byte("n")); k != nil && k[0] == 'n'; k, _ = c.Next() {
			_, per, ok := parseCountKey(k)
			if !ok || tx.Bucket(bucketWindows).Get(windowKey(per)) == nil {
				t.Errorf("count %q without a window state", k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

type modelSend struct {
	number string
	rank   int
	at     time.Time
}

// modelAllows is the limit check counted the long way: every send to
// number at least as severe as rank in every per-recipient window, and
// every send in the budget's.
func modelAllows(sends []modelSend, number string, rank int, perRecipient []Window, budget Window, now time.Time) bool {
	in := func(w Window, to string) bool {
		n := 0
		for _, s := range sends {
			if (to == "" || s.number == to && s.rank <= rank) && s.at.After(now.Add(-w.Per)) {
				n++
			}
		}
		return n < w.Max
	}
	for _, w := range perRecipient {
		if w.Max > 0 && !in(w, number) {
			return false
		}
	}
	return budget.Max <= 0 || in(budget, "")
}

// TestLimitsAgreeWithRecount runs random sends, refunds, purges, restarts,
// changes of the limits and steps of the clock, forth and back, against a
// model that counts every window afresh: each Take must decide as the model does, and every window state
// must count what the log holds.
func TestLimitsAgreeWithRecount(t *testing.T) {
	type limits struct {
		perRecipient []Window
		budget       Window
	}
	configs := []limits{
		{[]Window{{Max: 2, Per: 10 * time.Minute}, {Max: 4, Per: time.Hour}}, Window{Max: 7, Per: 24 * time.Hour}},
		// The budget shares its length with a per-recipient window of
		// the first.
		{[]Window{{Max: 3, Per: 10 * time.Minute}}, Window{Max: 5, Per: time.Hour}},
		{[]Window{{Max: 1, Per: 5 * time.Minute}, {Max: 3, Per: 30 * time.Minute}}, Window{}},
		{nil, Window{Max: 4, Per: 2 * time.Hour}},
		{[]Window{{Max: 0, Per: time.Minute}}, Window{Max: 0, Per: time.Minute}}, // no limits
	}
	numbers := []string{"+4915100000001", "+4915100000002", "+4915100000003"}
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			path := filepath.Join(t.TempDir(), "ledger.db")
			l := open(t, path, &now)
			defer func() { l.Close() }()
			var sends []modelSend
			cfg := configs[0]
			allowed, refused := 0, 0
			for step := range 1000 {
				switch op := rng.IntN(100); {
				case op < 55:
					number := numbers[rng.IntN(len(numbers))]
					rank := []int{0, 0, 1, 2, MaxRank}[rng.IntN(5)]
					force := rng.IntN(10) == 0
					want := force || modelAllows(sends, number, rank, cfg.perRecipient, cfg.budget, now)
					var at time.Time
					var ok bool
					var err error
					if rng.IntN(2) == 0 {
						at, ok, err = l.Take(number, rank, cfg.perRecipient, cfg.budget, force)
					} else {
						at, ok, err = l.TakeDoubt("k", Doubt{Number: number, Since: now, Last: now}, rank, cfg.perRecipient, cfg.budget, force, nil)
					}
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					if ok != want {
						t.Fatalf("step %d: Take(%s, rank %d, %+v, %+v, force %v) at %s = %v, a recount says %v", step, number, rank, cfg.perRecipient, cfg.budget, force, now, ok, want)
					}
					if ok {
						sends = append(sends, modelSend{number, rank, at})
						allowed++
					} else {
						refused++
					}
				case op < 67 && len(sends) > 0:
					// Give back a send, or one given back already.
					s := sends[rng.IntN(len(sends))]
					var err error
					if rng.IntN(2) == 0 {
						err = l.Refund(s.number, s.at)
					} else {
						err = l.Unsent("k", s.number, s.at)
					}
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					sends = slices.DeleteFunc(sends, func(x modelSend) bool { return x == s })
				case op < 70:
					// Sometimes shorter than a window: then both forget
					// what it held.
					keep := []time.Duration{20 * time.Minute, 3 * time.Hour, 25 * time.Hour}[rng.IntN(3)]
					if _, err := l.Purge(keep); err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					sends = slices.DeleteFunc(sends, func(x modelSend) bool { return x.at.Before(now.Add(-keep)) })
				case op < 72:
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					l = open(t, path, &now)
				case op < 78:
					cfg = configs[rng.IntN(len(configs))]
				case op < 80:
					// The clock goes back, as after a correction.
					now = now.Add(-time.Duration(rng.Int64N(int64(30 * time.Minute))))
				default:
					now = now.Add(time.Duration(rng.Int64N(int64(20 * time.Minute))))
				}
				checkWindows(t, l)
				if t.Failed() {
					t.Fatalf("step %d: window states disagree with the log", step)
				}
			}
			// Both outcomes must have happened often, or the test proves
			// little.
			if allowed < 50 || refused < 50 {
				t.Fatalf("%d sends allowed, %d refused: want both often", allowed, refused)
			}
		})
	}
}

func TestANewWindowLengthCountsTheSendsBefore(t *testing.T) {
	// Three sends, at 12:00, 12:01 and 12:02, taken without limits, so
	// that no window state counts them; then a check at 12:03.
	tests := []struct {
		name         string
		perRecipient []Window
		budget       Window
		want         bool
	}{
		{"per recipient", []Window{{Max: 3, Per: time.Hour}}, Window{}, false},
		{"per recipient, room for one more", []Window{{Max: 4, Per: time.Hour}}, Window{}, true},
		{"budget", nil, Window{Max: 3, Per: 2 * time.Hour}, false},
		{"holding the last send", []Window{{Max: 1, Per: time.Minute + time.Nanosecond}}, Window{}, false},
		{"holding none", []Window{{Max: 1, Per: time.Minute}}, Window{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
			defer l.Close()
			for range 3 {
				if _, ok, err := l.Take("+491", 0, nil, Window{}, false); err != nil || !ok {
					t.Fatal(ok, err)
				}
				now = now.Add(time.Minute)
			}
			if _, ok, err := l.Take("+491", 0, tt.perRecipient, tt.budget, false); err != nil || ok != tt.want {
				t.Errorf("Take = %v, %v; want %v", ok, err, tt.want)
			}
			checkWindows(t, l)
		})
	}
}

func TestPurgeDropsWindowStatesNoLongerChecked(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	for _, per := range []time.Duration{time.Minute, time.Hour} {
		if _, ok, err := l.Take("+491", 0, []Window{{Max: 5, Per: per}}, Window{}, false); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	states := func() []time.Duration {
		var pers []time.Duration
		if err := l.db.View(func(tx *bolt.Tx) error {
			for _, w := range windows(tx) {
				pers = append(pers, w.per)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return pers
	}
	// The hour is checked on, the minute no more.
	now = now.Add(2 * time.Hour)
	if _, ok, err := l.Take("+491", 0, []Window{{Max: 5, Per: time.Hour}}, Window{}, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := l.Purge(90 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := states(); !slices.Equal(got, []time.Duration{time.Hour}) {
		t.Errorf("window states after the purge: %v, want only the hour's", got)
	}
	checkWindows(t, l)
}

// TestOpenMigratesALedgerWithSendsByRecipient opens a file as the ledger
// wrote it before window states: its sends still count, and the log by
// recipient is gone.
func TestOpenMigratesALedgerWithSendsByRecipient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"delivered", "paged", "sends", "sends_time", "suppressed", "in_doubt"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		for i := range 3 {
			at := encodeTime(now.Add(-time.Duration(i) * time.Minute))
			if err := tx.Bucket([]byte("sends")).Put(append([]byte("+491\x00"), at...), nil); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("sends_time")).Put(append(at, "+491"...), nil); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("delivered")).Put([]byte("n1/+491"), encodeTime(now))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	l := open(t, path, &now)
	defer l.Close()
	if ok, err := l.Delivered("n1/+491"); err != nil || !ok {
		t.Errorf("Delivered = %v, %v; want the old delivery", ok, err)
	}
	if _, ok, err := l.Take("+491", 0, []Window{{Max: 3, Per: time.Hour}}, Window{}, false); err != nil || ok {
		t.Errorf("fourth send within the hour: allowed %v, %v; want refused", ok, err)
	}
	if _, ok, err := l.Take("+492", 0, nil, Window{Max: 3, Per: time.Hour}, false); err != nil || ok {
		t.Errorf("fourth send within the hour's budget: allowed %v, %v; want refused", ok, err)
	}
	if err := l.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("sends")) != nil {
			t.Error("the log by recipient is still there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTakeForLater: a send that sipgate makes later counts against the
// limits then: against the sends around that time (as severe as it, for
// a per-recipient window), not against those of now, hours before. Its
// refund gives its place back.
func TestTakeForLater(t *testing.T) {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number, other = "+491", "+492"
	morning := now.Add(8 * time.Hour)
	one := []Window{{Max: 1, Per: 10 * time.Minute}}
	take := func(number string, rank int, sendAt time.Time, budget Window) (time.Time, bool) {
		t.Helper()
		at, ok, err := l.TakeDoubt("k"+strconv.Itoa(rand.Int()), Doubt{Number: number, Since: now, Last: now, SendAt: sendAt}, rank, one, budget, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return at, ok
	}
	at, ok := take(number, 1, morning, Window{})
	if !ok || !at.Equal(morning) {
		t.Fatalf("the first warning for the morning: %v at %v, want taken for then", ok, at)
	}
	if err := l.Refund(number, at); err != nil {
		t.Fatal(err)
	}
	if _, ok := take(number, 1, morning, Window{}); !ok {
		t.Fatal("the morning's place is not given back by the refund")
	}
	for _, tc := range []struct {
		name   string
		number string
		rank   int
		sendAt time.Time
		budget Window
		want   bool
	}{
		{"another warning for the morning", number, 1, morning, Window{}, false},
		{"one for 5 minutes later", number, 1, morning.Add(5 * time.Minute), Window{}, false},
		{"one for 10 minutes later", number, 1, morning.Add(10 * time.Minute), Window{}, true},
		{"a critical for the morning", number, 0, morning, Window{}, true},
		{"a warning now, hours before the morning's", number, 1, time.Time{}, Window{}, true},
		{"a warning for 10 minutes before the morning", number, 1, morning.Add(-10 * time.Minute), Window{}, true},
		{"a warning for the morning to someone else", other, 1, morning, Window{}, true},
		{"a critical now, under an hour's budget the morning's fill", "+494", 0, time.Time{}, Window{Max: 4, Per: time.Hour}, true},
		{"one more than an hour's budget holds", "+493", 1, morning, Window{Max: 4, Per: time.Hour}, false},
		{"one more than a day's budget holds", "+493", 1, morning, Window{Max: 4, Per: 24 * time.Hour}, false},
	} {
		if _, ok := take(tc.number, tc.rank, tc.sendAt, tc.budget); ok != tc.want {
			t.Errorf("%s: taken %v, want %v", tc.name, ok, tc.want)
		}
	}
}

// TestScheduledSendRefundedByAnOlderVersion: a version from before the
// index of sends ahead refunds a deferred send from the log alone; the
// entry it leaves in the index must not be taken off the count of a
// window that no longer holds the send, letting more through.
func TestScheduledSendRefundedByAnOlderVersion(t *testing.T) {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	one := []Window{{Max: 1, Per: 12 * time.Hour}}
	at, ok, err := l.TakeDoubt("later", Doubt{Number: number, Since: now, Last: now, SendAt: now.Add(13 * time.Hour)}, 0, one, Window{}, false, nil)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := l.db.Update(func(tx *bolt.Tx) error { // the older version's refund
		log := tx.Bucket(bucketSendsByAge)
		key := logged(log, number, at)
		if err := log.Delete(key); err != nil {
			return err
		}
		return count(tx, string(key[8:]), at, -1)
	}); err != nil {
		t.Fatal(err)
	}
	taken := 0
	for range 3 {
		if _, ok, err := l.Take(number, 0, one, Window{}, false); err != nil {
			t.Fatal(err)
		} else if ok {
			taken++
		}
	}
	if taken != 1 {
		t.Errorf("%d sends taken under a limit of one", taken)
	}
}
