package ledger

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestGroupResolved: a group's resolved word on an alert is kept until the
// group says it fires again, per group, across a restart, and for the
// paged retention.
func TestGroupResolved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, path, &now)
	if err := l.NoteGroup("g1", "am-1", []Firing{{ID: "a"}, {ID: "b"}}, nil, true); err != nil {
		t.Fatal(err)
	}
	said := now
	now = now.Add(time.Minute)
	if err := l.NoteGroup("g1", "am-2", nil, []string{"b"}, true); err != nil { // b fires again
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, path, &now)
	defer func() { l.Close() }()
	got, err := l.ResolvedIn("g1", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]GroupResolved{"a": {At: said, By: "am-1"}}; !reflect.DeepEqual(utcGroup(got), want) {
		t.Errorf("ResolvedIn(g1) = %+v, want %+v", got, want)
	}
	if got, err := l.ResolvedIn("g2", []string{"a"}); err != nil || len(got) != 0 {
		t.Errorf("ResolvedIn(g2) = %+v, %v; want nothing: g1 said it", got, err)
	}
	now = said.Add(time.Hour) // the paged retention of open
	if n, err := l.Purge(time.Hour); err != nil || n == 0 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if err := l.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketGroupResolved).Cursor().First(); k != nil {
			t.Errorf("after the paged retention, the purge left %q", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func utcGroup(m map[string]GroupResolved) map[string]GroupResolved {
	for k, v := range m {
		v.At = v.At.UTC()
		m[k] = v
	}
	return m
}

// TestGroupResolvedKeepsTheFirstWord: the HA peer's copy of a group's
// resolved word, within the dedup window, leaves the first as it is; a
// word after the window is a new one.
func TestGroupResolvedKeepsTheFirstWord(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	first := now
	for _, step := range []struct {
		after time.Duration
		by    string
		want  GroupResolved
	}{
		{0, "am-1", GroupResolved{At: first, By: "am-1"}},
		{time.Minute, "am-2", GroupResolved{At: first, By: "am-1"}},
		{2 * time.Minute, "am-1", GroupResolved{At: first.Add(2 * time.Minute), By: "am-1"}},
		{13 * time.Minute, "am-2", GroupResolved{At: first.Add(13 * time.Minute), By: "am-2"}},
	} {
		now = first.Add(step.after)
		if err := l.NoteGroup("g1", step.by, []Firing{{ID: "a"}}, nil, true); err != nil {
			t.Fatal(err)
		}
		got, err := l.ResolvedIn("g1", []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		if g := utcGroup(got)["a"]; g != step.want {
			t.Errorf("after %s's word at +%s: %+v, want %+v", step.by, step.after, g, step.want)
		}
	}
}
