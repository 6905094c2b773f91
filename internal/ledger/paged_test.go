package ledger

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPagedToFindsWhomAnAlertReachedAcrossRestarts: for a resolved alert,
// the ledger says whom its firing SMS reached, by which contact and route,
// after a restart too, until the paged retention ends.
func TestPagedToFindsWhomAnAlertReachedAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, path, &now)
	alice := PagedRecipient{Number: "+492", Contact: "alice", Route: "oncall"}
	bob := PagedRecipient{Number: "+491", Contact: "bob", Route: "db"}
	if err := l.RecordPagedTo("n1/+492", alice, []string{"fp1|1", "fp2|1"}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkPagedTo(bob, []string{"fp1|1"}); err != nil {
		t.Fatal(err)
	}
	// An alert id that extends another's by a NUL is another alert.
	if err := l.MarkPagedTo(bob, []string{"fp1|1\x00x"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, path, &now)
	defer func() { l.Close() }()

	at := func(r PagedRecipient) PagedRecipient { r.At = now; return r }
	got, err := l.PagedTo([]string{"fp1|1", "fp2|1", "fp3|1", "fp1|1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]PagedRecipient{"fp1|1": {at(bob), at(alice)}, "fp2|1": {at(alice)}}
	if !reflect.DeepEqual(normalize(got), want) {
		t.Errorf("PagedTo = %+v\nwant      %+v", got, want)
	}
	if ok, _ := l.WasPaged("+492", "fp2|1"); !ok {
		t.Error("WasPaged disagrees with PagedTo")
	}

	now = now.Add(time.Hour)
	if got, err := l.PagedTo([]string{"fp1|1"}); err != nil || len(got) != 0 {
		t.Errorf("past the retention: PagedTo = %+v, %v; want nothing", got, err)
	}
	if n, err := l.Purge(time.Hour); err != nil || n != 5 {
		t.Errorf("Purge = %d, %v; want 5: 1 delivery, 4 paged marks", n, err)
	}
}

// TestOpenMigratesPagedByNumber: the marks of an older ledger, which
// kept them by number (and, later, by alert too), are found by alert and
// by number after the upgrade, and the copy by number is gone. Marks
// written before the index by alert existed have no contact or route.
func TestOpenMigratesPagedByNumber(t *testing.T) {
	bob := PagedRecipient{Number: "+491", Contact: "bob", Route: "db"}
	for _, tc := range []struct {
		name      string
		withIndex bool
		want      PagedRecipient
	}{
		{"marks by number only", false, PagedRecipient{Number: "+491"}},
		{"marks both ways", true, bob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			l := open(t, path, &now)
			if tc.withIndex {
				if err := l.MarkPagedTo(bob, []string{"fp1|1"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.db.Update(func(tx *bolt.Tx) error {
				if !tc.withIndex {
					if err := tx.DeleteBucket(bucketPagedBy); err != nil {
						return err
					}
				}
				old, err := tx.CreateBucket(bucketPaged)
				if err != nil {
					return err
				}
				return old.Put([]byte("+491\x00fp1|1"), encodeTime(now))
			}); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = open(t, path, &now)
			defer l.Close()
			assertNoPagedByNumber(t, l)
			got, err := l.PagedTo([]string{"fp1|1"})
			if err != nil {
				t.Fatal(err)
			}
			tc.want.At = now
			if want := []PagedRecipient{tc.want}; !reflect.DeepEqual(normalize(got)["fp1|1"], want) {
				t.Errorf("PagedTo = %+v; want %+v", got, want)
			}
			if ok, err := l.WasPaged("+491", "fp1|1"); err != nil || !ok {
				t.Errorf("WasPaged = %v, %v; want true", ok, err)
			}
			if ok, _ := l.WasPaged("+492", "fp1|1"); ok {
				t.Error("WasPaged true for a number the alert did not reach")
			}
		})
	}
}

// assertNoPagedByNumber fails unless the ledger lacks the old bucket of
// paged marks by number.
func assertNoPagedByNumber(t *testing.T, l *Ledger) {
	t.Helper()
	if err := l.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPaged) != nil {
			t.Error("the paged marks by number are still there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// normalize makes the times of PagedTo's answer comparable with ==.
func normalize(m map[string][]PagedRecipient) map[string][]PagedRecipient {
	for _, rs := range m {
		for i := range rs {
			rs[i].At = rs[i].At.UTC()
		}
	}
	return m
}
