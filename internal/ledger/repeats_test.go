package ledger

import (
	"path/filepath"
	"testing"
	"time"
)

func TestRecordRepeat(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	l, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{DedupWindow: time.Minute, PagedRetention: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if r, err := l.LastRepeat("g"); err != nil || r != (Repeat{}) {
		t.Fatalf("LastRepeat of a new group = %+v, %v; want none", r, err)
	}
	first := now
	if err := l.RecordRepeat("g", "http://am-1:9093"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(4 * time.Minute)
	if err := l.RecordRepeat("g", "http://am-2:9093"); err != nil {
		t.Fatal(err)
	}
	r, err := l.LastRepeat("g")
	if err != nil {
		t.Fatal(err)
	}
	if !r.At.Equal(now) || !r.Previous.Equal(first) || r.By != "http://am-2:9093" {
		t.Errorf("LastRepeat = %+v, want at %v, previous %v, by am-2", r, now, first)
	}
	if r, _ := l.LastRepeat("other"); r != (Repeat{}) {
		t.Errorf("LastRepeat of another group = %+v, want none", r)
	}

	now = now.Add(2 * time.Hour)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.LastRepeat("g"); r != (Repeat{}) {
		t.Errorf("LastRepeat after the paged retention = %+v, want it purged", r)
	}
}
