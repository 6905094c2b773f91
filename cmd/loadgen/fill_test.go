package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

// TestFillLedger: the sends of --ledger-sends lie in the day's windows of
// --limits, spread over the day rather than at its end, to fillNumbers
// people, whether they were taken against those limits or forced.
func TestFillLedger(t *testing.T) {
	for _, limits := range []bool{false, true} {
		t.Run(fmt.Sprintf("limits=%v", limits), func(t *testing.T) { testFillLedger(t, limits) })
	}
}

func testFillLedger(t *testing.T, limits bool) {
	const n = 3000
	path := filepath.Join(t.TempDir(), ledger.FileName)
	now := time.Now()
	if err := fillLedger(context.Background(), path, n, now, limits); err != nil {
		t.Fatal(err)
	}
	if kept := keepsDayCounts(t, path); kept != limits {
		t.Errorf("the ledger keeps the counts of the day's windows: %v, want %v (the fill took its sends against the limits: %[2]v)", kept, limits)
	}
	l, err := ledger.Open(path, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	day := func(max int) ledger.Window { return ledger.Window{Max: max, Per: fillDay} }
	take := func(number string, perRecipient []ledger.Window, budget ledger.Window) bool {
		t.Helper()
		return allowsOneMore(t, l, number, perRecipient, budget)
	}
	if take("+4915100000001", nil, day(n)) {
		t.Errorf("a day's budget of %d let one more through: the day holds fewer than the %d sends", n, n)
	}
	// In ten minutes of a day: n/144, about 21.
	if !take("+4915100000001", nil, ledger.Window{Max: 30, Per: 10 * time.Minute}) {
		t.Errorf("a budget of 30 in 10m is full: the sends are not spread over the day")
	}
	if take("+4915100000001", nil, ledger.Window{Max: 15, Per: 10 * time.Minute}) {
		t.Errorf("a budget of 15 in 10m let one through: the last ten minutes hold fewer than n/144 sends")
	}
	// Each of the fillNumbers people got n/fillNumbers of them.
	per := n / fillNumbers
	if take(fillNumber(0), []ledger.Window{day(per)}, ledger.Window{}) {
		t.Errorf("%s took a send past %d a day: it got fewer of the fill's", fillNumber(0), per)
	}
	if !take(fillNumber(1), []ledger.Window{day(per + 1)}, ledger.Window{}) {
		t.Errorf("%s took no send within %d a day: the fill's sends are not spread over %d people", fillNumber(1), per+1, fillNumbers)
	}
}

// TestFillLedgerStopsWithItsContext: an interrupted fill says so.
func TestFillLedgerStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fillLedger(ctx, filepath.Join(t.TempDir(), ledger.FileName), 1000, time.Now(), true); err == nil {
		t.Error("fillLedger with its context done = nil, want an error")
	}
}

// keepsDayCounts reports whether the ledger file at path keeps the counts
// of the windows of a day, which a check against them leaves and a forced
// send does not. It reads the ledger's own layout (internal/ledger's
// limits.go: the bucket "windows", the key "r" and the window's length),
// which its API does not show.
func keepsDayCounts(t *testing.T, path string) bool {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kept := false
	if err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("windows")); b != nil {
			kept = b.Get(binary.BigEndian.AppendUint64([]byte("r"), uint64(fillDay))) != nil
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return kept
}

// allowsOneMore takes a send to number against the limits and reports
// whether they allowed it: how a test reads what a ledger's windows hold.
func allowsOneMore(t *testing.T, l *ledger.Ledger, number string, perRecipient []ledger.Window, budget ledger.Window) bool {
	t.Helper()
	_, ok, err := l.Take(number, 0, perRecipient, budget, false)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
