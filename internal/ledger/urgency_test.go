package ledger

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	critical = 0
	warning  = 2
)

// TestMoreSevereTakesThePlaceOfLessSevere: a per-recipient window's Max
// counts, for a send, only the sends at least as severe; refunds give back
// to the rank they took from.
func TestMoreSevereTakesThePlaceOfLessSevere(t *testing.T) {
	for _, tc := range []struct {
		name         string
		perRecipient []Window
		budget       Window
	}{
		{"per recipient", []Window{{Max: 2, Per: time.Hour}}, Window{}},
		{"per recipient, under a larger budget", []Window{{Max: 2, Per: time.Hour}}, Window{Max: 5, Per: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
			defer l.Close()
			take := func(rank int, want bool) time.Time {
				t.Helper()
				now = now.Add(time.Second)
				at, ok, err := l.Take("+491", rank, tc.perRecipient, tc.budget, false)
				if err != nil || ok != want {
					t.Fatalf("Take(rank %d) = %v, %v; want %v", rank, ok, err, want)
				}
				checkWindows(t, l)
				return at
			}
			take(warning, true)
			take(warning, true)
			take(warning, false) // the window is full of warnings
			firstCritical := take(critical, true)
			take(critical, true)
			take(critical, false) // full of criticals now
			take(warning, false)
			take(MaxRank, false)   // a digest counts everything
			take(warning+1, false) // less severe still
			if err := l.Refund("+491", firstCritical); err != nil {
				t.Fatal(err)
			}
			checkWindows(t, l)
			take(critical, true) // the refund gave room back to criticals
			now = now.Add(time.Hour)
			take(warning, true) // the window moved on
		})
	}
}

// TestBudgetCountsEverySend: the budget caps cost, whatever the
// severity: a critical does not go past it.
func TestBudgetCountsEverySend(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	budget := Window{Max: 2, Per: time.Hour}
	for i, tc := range []struct {
		number string
		rank   int
		want   bool
	}{{"+491", warning, true}, {"+492", warning, true}, {"+493", critical, false}, {"+491", critical, false}} {
		now = now.Add(time.Second)
		if _, ok, err := l.Take(tc.number, tc.rank, nil, budget, false); err != nil || ok != tc.want {
			t.Fatalf("send %d (rank %d to %s) = %v, %v; want %v", i, tc.rank, tc.number, ok, err, tc.want)
		}
	}
	checkWindows(t, l)
}

// TestOpenRecountsWindowsWithoutRanks: window states written before ranks
// existed are dropped at Open and counted afresh from the log, whose sends
// count as the most severe.
func TestOpenRecountsWindowsWithoutRanks(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path, &now)
	// As an older version left it: two sends logged under the bare number,
	// a state under "w" and a count that disagrees with the log.
	if err := l.db.Update(func(tx *bolt.Tx) error {
		for i := range 2 {
			if err := tx.Bucket(bucketSendsByAge).Put(sendKey("+491", now.Add(-time.Duration(i+1)*time.Minute)), nil); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketWindows)
		old := window{per: time.Hour, tail: now.Add(-time.Hour), total: 7}
		if err := b.Put(append([]byte("w"), windowKey(time.Hour)[1:]...), old.encode()); err != nil {
			return err
		}
		return b.Put(countKey(time.Hour, "+491"), []byte{0, 0, 0, 0, 0, 0, 0, 7})
	}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = open(t, path, &now)
	defer l.Close()
	if err := l.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketWindows).Cursor().First(); k != nil {
			t.Errorf("window key %q left after Open, want none", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hour := []Window{{Max: 3, Per: time.Hour}}
	if _, ok, err := l.Take("+491", warning, hour, Window{}, false); err != nil || !ok {
		t.Fatalf("third send within the hour: %v, %v; want allowed", ok, err)
	}
	if _, ok, err := l.Take("+491", critical, hour, Window{}, false); err != nil || !ok {
		t.Fatalf("a critical after 2 old sends and a warning: %v, %v; want allowed, the third most severe", ok, err)
	}
	if _, ok, err := l.Take("+491", critical, hour, Window{}, false); err != nil || ok {
		t.Fatalf("a critical after 2 old sends (most severe) and a critical, limit 3: %v, %v; want refused", ok, err)
	}
	checkWindows(t, l)
}

func TestSender(t *testing.T) {
	for _, tc := range []struct {
		number string
		rank   int
		want   string
	}{
		{"+491", 0, "+491"},
		{"+491", 2, "+491~2"},
		{"+491", 15, "+491~f"},
		{"+491", 99, "+491~f"},
		{"+491", -1, "+491"},
	} {
		s := sender(tc.number, tc.rank)
		if s != tc.want {
			t.Errorf("sender(%q, %d) = %q, want %q", tc.number, tc.rank, s, tc.want)
		}
		number, rank := parseSender(s)
		if number != tc.number || rank != min(max(tc.rank, 0), MaxRank) {
			t.Errorf("parseSender(%q) = %q, %d", s, number, rank)
		}
	}
}
