package ledger

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, path string, now *time.Time) *Ledger {
	t.Helper()
	l, err := Open(path, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return *now }
	return l
}

func TestLedgerRemembersWithinWindowAndAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ledger.db")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, path, &now)

	if ok, err := l.Delivered("n1/+4915112345678"); err != nil || ok {
		t.Fatalf("fresh ledger: Delivered = %v, %v; want false, nil", ok, err)
	}
	if err := l.Record("n1/+4915112345678"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Delivered("n1/+4915112345678"); !ok {
		t.Fatal("recorded key not delivered")
	}
	if ok, _ := l.Delivered("n1/+4915199999999"); ok {
		t.Fatal("other recipient counted as delivered")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(9 * time.Minute)
	l = open(t, path, &now)
	defer l.Close()
	if ok, _ := l.Delivered("n1/+4915112345678"); !ok {
		t.Fatal("key forgotten across restart")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.Delivered("n1/+4915112345678"); ok {
		t.Fatal("key still delivered after the window")
	}
}

func TestPurgeDeletesOnlyExpired(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	for _, k := range []string{"a", "b"} {
		if err := l.Record(k); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(6 * time.Minute)
	if err := l.Record("c"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	n, err := l.Purge()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || l.Len() != 1 {
		t.Fatalf("Purge removed %d, %d left; want 2 removed, 1 left", n, l.Len())
	}
	if ok, _ := l.Delivered("c"); !ok {
		t.Fatal("unexpired key purged")
	}
}

func TestOpenLockedFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Now()
	l := open(t, path, &now)
	defer l.Close()
	_, err := Open(path, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: err = %v, want a locked-file error naming the path", err)
	}
}
