package ledger

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPurgeKeepsWhatWasRenewedMeanwhile: what expired when Purge read it,
// but was written again before it deleted (a repeat marking an alert
// paged again, a delivery recorded again), is kept.
func TestPurgeKeepsWhatWasRenewedMeanwhile(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice"}
	if err := l.RecordPagedTo("n1/+491", alice, firing("fp1|1", "fp2|1")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // past the dedup window and the paged retention
	expired := l.expiring()
	if err := l.findExpired(expired); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordPagedTo("n1/+491", alice, firing("fp1|1")); err != nil {
		t.Fatal(err)
	}
	n, err := l.deleteExpired(expired)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("deleted %d, want 1: fp2's mark", n)
	}
	if ok, _ := l.Delivered("n1/+491"); !ok {
		t.Error("the delivery recorded again was purged")
	}
	if ok, _ := l.WasPaged("+491", firing("fp1|1")[0]); !ok {
		t.Error("the mark written again was purged")
	}
	if ok, _ := l.WasPaged("+491", firing("fp2|1")[0]); ok {
		t.Error("the expired mark was kept")
	}
}

// TestPurgeDeletesInSteps: a purge deletes all that expired, however
// much, reading a bounded stretch of a bucket at a time and going on
// after it, deleting a bounded number at a time.
func TestPurgeDeletesInSteps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		expired func(i int) bool
		// writes are the write transactions of the purge: one for each
		// step that found expired entries, then the small buckets'.
		writes int
	}{
		// Steps read 3 entries and delete at most 2.
		{"every other", func(i int) bool { return i%2 == 0 }, 1 + 3},
		{"only the last three", func(i int) bool { return i >= 7 }, 1 + 2},
		{"only the first", func(i int) bool { return i == 0 }, 1 + 1},
		{"none", func(int) bool { return false }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
			defer l.Close()
			l.purge = purgeLimits{scan: 3, batch: 2}
			want := 0
			if err := l.db.Update(func(tx *bolt.Tx) error {
				for i := range 10 {
					at := now.Add(time.Hour)
					if tc.expired(i) {
						at = now
						want++
					}
					if err := record(tx, fmt.Sprintf("n%02d", i), encodeTime(at)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Hour)
			before := txID(t, l.db)
			var told []int // the writes of each commit Committed hears of
			l.group.committed = func(writes int, _ time.Duration) { told = append(told, writes) }
			// A purge that does not go on after a step reads the same
			// entries forever: fail, rather than hang.
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() { n, err := l.Purge(time.Hour); done <- result{n, err} }()
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Purge did not end")
			}
			if r.err != nil || r.n != want {
				t.Errorf("Purge = %d, %v; want %d", r.n, r.err, want)
			}
			if writes := txID(t, l.db) - before; writes != tc.writes {
				t.Errorf("%d write transactions, want %d", writes, tc.writes)
			}
			// The purge's commits hold the writer too, with no caller's
			// writes.
			if len(told) != tc.writes || slices.ContainsFunc(told, func(w int) bool { return w != 0 }) {
				t.Errorf("Committed told of commits of %v writes, want %d of none", told, tc.writes)
			}
			if n := l.Len(); n != 10-want {
				t.Errorf("%d deliveries left, want %d", n, 10-want)
			}
		})
	}
}
