package ledger

import (
	"fmt"
	"path/filepath"
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
	if err := l.db.View(func(tx *bolt.Tx) error {
		for i := range expired {
			expired[i].find(tx)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordPagedTo("n1/+491", alice, firing("fp1|1")); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := l.db.Update(func(tx *bolt.Tx) error {
		for _, e := range expired {
			deleted, err := e.delete(tx)
			n += deleted
			if err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
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

// TestPurgeDeletesABacklogInSteps: a purge deletes a backlog larger than
// purgeBatch whole, in a write transaction for each purgeBatch entries.
func TestPurgeDeletesABacklogInSteps(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const backlog = 2*purgeBatch + 10
	if err := l.db.Update(func(tx *bolt.Tx) error {
		for i := range backlog {
			if err := record(tx, fmt.Sprintf("n%06d", i), encodeTime(now.Add(time.Duration(i%2)*time.Hour))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	before := txID(t, l.db)
	if n, err := l.Purge(time.Hour); err != nil || n != backlog/2 {
		t.Errorf("Purge = %d, %v; want %d, every other delivery", n, err, backlog/2)
	}
	// One for the small buckets, then one per batch: 10,005 expired
	// entries, 2 batches.
	if commits := txID(t, l.db) - before; commits != 3 {
		t.Errorf("%d write transactions, want 3", commits)
	}
	if n := l.Len(); n != backlog/2 {
		t.Errorf("%d deliveries left, want %d", n, backlog/2)
	}
}
