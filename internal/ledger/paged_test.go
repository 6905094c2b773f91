package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
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
	if err := l.RecordPagedTo("n1/+492", alice, firing("fp1|1", "fp2|1")); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkPagedTo(bob, firing("fp1|1")); err != nil {
		t.Fatal(err)
	}
	// An alert id that extends another's by a NUL is another alert.
	if err := l.MarkPagedTo(bob, firing("fp1|1\x00x")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, path, &now)
	defer func() { l.Close() }()

	at := func(r PagedRecipient) PagedRecipient { r.At = now; return r }
	got, err := l.PagedTo(firing("fp1|1", "fp2|1", "fp3|1", "fp1|1"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]PagedRecipient{"fp1|1": {at(bob), at(alice)}, "fp2|1": {at(alice)}}
	if !reflect.DeepEqual(normalize(got), want) {
		t.Errorf("PagedTo = %+v\nwant      %+v", got, want)
	}
	if ok, _ := l.WasPaged("+492", firing("fp2|1")[0]); !ok {
		t.Error("WasPaged disagrees with PagedTo")
	}

	now = now.Add(time.Hour)
	if got, err := l.PagedTo(firing("fp1|1")); err != nil || len(got) != 0 {
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
				// Marks by alert alone, as this version writes those
				// of an alert whose start is unknown.
				if err := l.MarkPagedTo(bob, []Firing{{ID: "fp1|1"}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.db.Update(func(tx *bolt.Tx) error {
				if !tc.withIndex && tx.Bucket(bucketPagedByAlert) != nil {
					t.Error("a bucket of marks by alert alone without such marks")
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
			assertNoBucket(t, l, bucketPaged, "the paged marks by number")
			got, err := l.PagedTo(firing("fp1|1"))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.At = now
			if want := []PagedRecipient{tc.want}; !reflect.DeepEqual(normalize(got)["fp1|1"], want) {
				t.Errorf("PagedTo = %+v; want %+v", got, want)
			}
			if ok, err := l.WasPaged("+491", firing("fp1|1")[0]); err != nil || !ok {
				t.Errorf("WasPaged = %v, %v; want true", ok, err)
			}
			if ok, _ := l.WasPaged("+492", firing("fp1|1")[0]); ok {
				t.Error("WasPaged true for a number the alert did not reach")
			}
			now = now.Add(2 * time.Hour)
			if _, err := l.Purge(time.Hour); err != nil {
				t.Fatal(err)
			}
			assertNoBucket(t, l, bucketPagedByAlert, "the emptied bucket of marks by alert alone")
		})
	}
}

// TestPagedMarksOfAStormShareTheirPages: the paged marks of a storm's
// alerts, which began firing about together, are written to a few pages
// side by side, however scattered their ids and however many marks the
// ledger holds: keyed by alert alone, each was a page of its own.
func TestPagedMarksOfAStormShareTheirPages(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	// Ids scattered over the key space.
	id := func(storm, i int) string {
		return fmt.Sprintf("%.8x|1", sha256.Sum256(fmt.Appendf(nil, "%d/%d", storm, i)))
	}
	storm := func(n, k int, since time.Time) []Firing {
		alerts := make([]Firing, n)
		for i := range alerts {
			alerts[i] = Firing{ID: id(k, i), Since: since}
		}
		return alerts
	}
	to := PagedRecipient{Number: "+4915112345678", Contact: "alice", Route: "oncall"}
	// Earlier alerts, one start each: 20,000 marks, some 1,000 pages.
	for k := range 20 {
		alerts := storm(1000, k, time.Time{})
		for i := range alerts {
			alerts[i].Since = now.Add(-time.Duration(k*1000+i) * time.Second)
		}
		if err := l.MarkPagedTo(to, alerts); err != nil {
			t.Fatal(err)
		}
	}
	alerts := storm(1000, 20, now.Add(-time.Minute))
	written := func() int64 { s := l.db.Stats(); return s.TxStats.GetWrite() }
	before := written()
	if err := l.RecordPagedTo("n1/+4915112345678", to, alerts); err != nil {
		t.Fatal(err)
	}
	// 1,000 marks of about 70 bytes fill some 25 to 50 pages of 4 KiB,
	// and the tree above them a few more (33 here with the marks and
	// notes of a storm filling their pages, 56 at bbolt's default split:
	// see TestStormsFillTheirPages); scattered among the
	// others they rewrite most of 800 pages (544 here). Counted in bytes, for machines of larger pages,
	// whose leaves are fewer.
	if n := (written() - before) * int64(l.db.Info().PageSize); n > 600<<10 {
		t.Errorf("marking a storm of 1,000 alerts wrote %d KiB, want at most 600 KiB", n>>10)
	}
	got, err := l.PagedTo(alerts[:3])
	if err != nil || len(got) != 3 {
		t.Errorf("PagedTo = %v, %v; want the storm's alerts paged", got, err)
	}
}

// TestTimeKeyedBucketsFillTheirPages: the log of sends, whose keys begin
// with the time of the send, grows at its end; the pages it leaves behind
// must be nearly full, not half empty as bbolt leaves them by default.
// The paged marks begin with the alert's start, which reaches the ledger
// up to minutes late (group_interval): their pages must not fall apart
// into small pieces, as a page split nine to one does.
func TestTimeKeyedBucketsFillTheirPages(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	to := PagedRecipient{Number: "+4915112345678", Contact: "alice", Route: "oncall"}
	late := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		now = now.Add(time.Second)
		// Half the notifications new groups, sent at once; the others
		// alerts that joined a group up to five minutes ago.
		since := now
		if i%2 == 1 {
			since = now.Add(-time.Duration(late.Int64N(int64(5 * time.Minute))))
		}
		alerts := []Firing{
			{ID: fmt.Sprintf("%.8x|1", sha256.Sum256(fmt.Appendf(nil, "a%d", i))), Since: since},
			{ID: fmt.Sprintf("%.8x|1", sha256.Sum256(fmt.Appendf(nil, "b%d", i))), Since: since},
		}
		key := fmt.Sprintf("n%d/%s", i, to.Number)
		if _, ok, err := l.TakeDoubt(key, Doubt{Number: to.Number, Since: now, Last: now}, 0, nil, Window{}, false, nil); err != nil || !ok {
			t.Fatalf("take %d = %v, %v", i, ok, err)
		}
		if err := l.RecordPagedTo(key, to, alerts); err != nil {
			t.Fatal(err)
		}
	}
	checkFill(t, l, bucketSendsByAge, 10, 0.8)
	checkFill(t, l, bucketPagedSince, 10, 0.6)
}

// checkFill fails the test unless the leaf pages of the bucket named, at
// least minPages of them, are at least fill full.
func checkFill(t *testing.T, l *Ledger, name []byte, minPages int, fill float64) {
	t.Helper()
	if err := l.db.View(func(tx *bolt.Tx) error {
		s := tx.Bucket(name).Stats()
		if s.LeafPageN < minPages {
			t.Fatalf("%s: %d leaf pages, want enough to tell their fill", name, s.LeafPageN)
		}
		if got := float64(s.LeafInuse) / float64(s.LeafAlloc); got < fill {
			t.Errorf("%s: leaf pages %.0f%% full (%d pages), want at least %.0f%%", name, 100*got, s.LeafPageN, 100*fill)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPagedToFindsMarksOfBothLayouts: after an upgrade, whom an older
// version paged (marks by alert alone) and whom this one paged since
// (marks by start) are found together, each number once, by its latest
// mark.
func TestPagedToFindsMarksOfBothLayouts(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "old"}
	carol := PagedRecipient{Number: "+493", Contact: "carol", Route: "old"}
	// An older version's marks: by alert alone, as those of an unknown
	// start still are.
	for _, to := range []PagedRecipient{alice, carol} {
		if err := l.MarkPagedTo(to, []Firing{{ID: "fp1|1"}}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	bob := PagedRecipient{Number: "+492", Contact: "bob", Route: "new"}
	alice.Route = "new"
	for _, to := range []PagedRecipient{bob, alice} {
		if err := l.MarkPagedTo(to, firing("fp1|1")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.PagedTo(firing("fp1|1"))
	if err != nil {
		t.Fatal(err)
	}
	at := func(r PagedRecipient, t time.Time) PagedRecipient { r.At = t; return r }
	want := []PagedRecipient{at(alice, now), at(bob, now), at(carol, now.Add(-time.Minute))}
	if !reflect.DeepEqual(normalize(got)["fp1|1"], want) {
		t.Errorf("PagedTo = %+v\nwant      %+v", got["fp1|1"], want)
	}
	for _, number := range []string{"+491", "+492", "+493"} {
		if ok, err := l.WasPaged(number, firing("fp1|1")[0]); err != nil || !ok {
			t.Errorf("WasPaged(%s) = %v, %v; want true", number, ok, err)
		}
	}
}

// assertNoBucket fails unless the ledger lacks the bucket name, which
// what names.
func assertNoBucket(t *testing.T, l *Ledger, name []byte, what string) {
	t.Helper()
	if err := l.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(name) != nil {
			t.Errorf("%s: still there", what)
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

// TestSortKeysOrdersAsBytesCompare: keys sorted by their first 16 bytes
// as integers end in bytes.Compare's order, whatever their length, shared
// prefix or zero bytes.
func TestSortKeysOrdersAsBytesCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0, 1, 'a', 'b', 0xff}
	for range 200 {
		keys := make([][]byte, rng.IntN(60))
		// A shared start, as a storm's keys have: in some rounds past the
		// 16 bytes compared as integers, so that bytes.Compare decides.
		start := []byte("\x00\x00\x01\x8a")
		if rng.IntN(2) == 0 {
			start = []byte("\x00\x00\x01\x8a\x10\x20\x30\x40fp0123ab\x00+49")
		}
		for i := range keys {
			k := slices.Clone(start[:rng.IntN(len(start)+1)])
			for range rng.IntN(24) {
				k = append(k, alphabet[rng.IntN(len(alphabet))])
			}
			keys[i] = k
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, bytes.Compare)
		sortKeys(keys)
		if !slices.EqualFunc(keys, want, bytes.Equal) {
			t.Fatalf("sorted\n%q\nwant\n%q", keys, want)
		}
	}
}

// TestResolvedIsNotedInThePagedMark: an SMS that tells an alert resolved
// notes so in the mark of whom its firing SMS reached, keeping when that
// was; the alert paged again clears it; nobody else gets a mark.
func TestResolvedIsNotedInThePagedMark(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	alerts := []Firing{{ID: "fp1|1", Since: firingSince}, {ID: "fp2|0"}} // a start unknown too
	resolvedOf := func(alerts []Firing) []Firing {
		out := slices.Clone(alerts)
		for i := range out {
			out[i].Resolved = true
		}
		return out
	}
	paged := now
	if err := l.RecordPagedTo("k1", alice, alerts); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	told := now
	for _, number := range []string{"+491", "+492"} { // +492 was never paged
		if err := l.RecordPagedTo("k2/"+number, PagedRecipient{Number: number}, resolvedOf(alerts)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.PagedTo(alerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		want := []PagedRecipient{{Number: "+491", Contact: "alice", Route: "team", At: paged, Resolved: told}}
		if !reflect.DeepEqual(utcMarks(got[a.ID]), want) {
			t.Errorf("%s: PagedTo = %+v, want %+v", a.ID, got[a.ID], want)
		}
	}
	// To a resolved alert's RESOLVED from another group, +492 was told
	// (an alert without a start aside: none is noted).
	got, err = l.PagedTo(resolvedOf(alerts))
	if err != nil {
		t.Fatal(err)
	}
	want := []PagedRecipient{{Number: "+491", Contact: "alice", Route: "team", At: paged, Resolved: told}, {Number: "+492", At: told, Resolved: told}}
	if !reflect.DeepEqual(utcMarks(got["fp1|1"]), want) {
		t.Errorf("fp1|1 resolved: PagedTo = %+v, want %+v", got["fp1|1"], want)
	}
	if len(got["fp2|0"]) != 1 {
		t.Errorf("fp2|0 resolved: PagedTo = %+v, want alice", got["fp2|0"])
	}
	now = now.Add(time.Minute)
	if err := l.RecordPagedTo("k3", alice, alerts); err != nil { // fired again
		t.Fatal(err)
	}
	got, err = l.PagedTo(alerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if r := got[a.ID]; len(r) != 1 || !r[0].Resolved.IsZero() || !r[0].At.Equal(now) {
			t.Errorf("%s paged again: PagedTo = %+v, want paged at %s and not resolved", a.ID, r, now)
		}
	}
}

func utcMarks(rs []PagedRecipient) []PagedRecipient {
	for i := range rs {
		rs[i].At, rs[i].Resolved = rs[i].At.UTC(), rs[i].Resolved.UTC()
	}
	return rs
}

// TestPagedMarksOfAnOlderVersionAfterAnUpgrade: a version from before the
// marks by alert wrote its marks by number; they count after the upgrade,
// also when it ran on the file after a later version had (a rollback and
// an upgrade again), and a later mark is not taken back by an older one.
func TestPagedMarksOfAnOlderVersionAfterAnUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, path, &now)
	if err := l.MarkPaged("+491", []Firing{{ID: "fp0|0"}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// The older version's run: marks by number, one of them older than
	// the mark the later version wrote.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPaged)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("+492\x00fp1|1"), encodeTime(now)); err != nil {
			return err
		}
		return b.Put([]byte("+491\x00fp0|0"), encodeTime(now.Add(-50*time.Minute)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	now = now.Add(30 * time.Minute) // the older mark of fp0|0 is past the retention of an hour
	l = open(t, path, &now)
	defer l.Close()
	for _, tc := range []struct {
		number string
		alert  string
	}{{"+492", "fp1|1"}, {"+491", "fp0|0"}} {
		if ok, err := l.WasPaged(tc.number, Firing{ID: tc.alert}); err != nil || !ok {
			t.Errorf("WasPaged(%s, %s) after the upgrade = %v, %v; want true", tc.number, tc.alert, ok, err)
		}
	}
}

// TestResolvedFindsTheLastPagedFiringOfItsGroup: a resolved alert whose
// own firing paged nobody, or not them (it fired again unseen, with a
// later start), finds whom its group's last paged firing of it reached,
// and notes it told in that mark; a firing alert never does, nor one of
// another group, nor a firing older than the last one noted, nor one
// after the group said that one resolved; and a late mark of an older
// firing leaves the later one noted. Its entries go with the retention.
func TestResolvedFindsTheLastPagedFiringOfItsGroup(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	bob := PagedRecipient{Number: "+492", Contact: "bob", Route: "team"}
	at := func(min int) time.Time { return firingSince.Add(time.Duration(min) * time.Minute) }
	fire := func(min int, group string) Firing {
		return Firing{ID: fmt.Sprintf("fp1|%d", min), Since: at(min), Alert: "fp1", Group: group}
	}
	resolved := func(f Firing) Firing { f.Resolved = true; return f }
	paged := now
	if err := l.RecordPagedTo("k1", alice, []Firing{fire(0, "g1")}); err != nil {
		t.Fatal(err)
	}
	// Bob's SMS of an older firing, written late: the last noted stays.
	if err := l.RecordPagedTo("k0", bob, []Firing{fire(-5, "g1")}); err != nil {
		t.Fatal(err)
	}
	lookup := func(f Firing) []PagedRecipient {
		t.Helper()
		got, err := l.PagedTo([]Firing{f})
		if err != nil {
			t.Fatal(err)
		}
		return utcMarks(got[f.ID])
	}
	want := []PagedRecipient{{Number: "+491", Contact: "alice", Route: "team", At: paged}}
	if got := lookup(resolved(fire(10, "g1"))); !reflect.DeepEqual(got, want) {
		t.Errorf("resolved, fired again unseen: PagedTo = %+v, want %+v", got, want)
	}
	for _, f := range []Firing{fire(10, "g1"), resolved(fire(10, "g2")), resolved(fire(-1, "g1"))} {
		if got := lookup(f); len(got) != 0 {
			t.Errorf("%+v: PagedTo = %+v, want nobody", f, got)
		}
	}

	// Another group saw the refire and paged carol about it: alice, whom
	// only the first firing reached, is still owed the RESOLVED.
	carol := PagedRecipient{Number: "+490", Contact: "carol", Route: "db"}
	if err := l.RecordPagedTo("k9", carol, []Firing{fire(10, "g2")}); err != nil {
		t.Fatal(err)
	}
	both := []PagedRecipient{{Number: "+490", Contact: "carol", Route: "db", At: paged}, want[0]}
	if got := lookup(resolved(fire(10, "g1"))); !reflect.DeepEqual(got, both) {
		t.Errorf("resolved, seen by another group only: PagedTo = %+v, want %+v", got, both)
	}

	now = now.Add(time.Minute)
	told := now
	if err := l.RecordPagedTo("k2", alice, []Firing{resolved(fire(10, "g1"))}); err != nil {
		t.Fatal(err)
	}
	want[0].Resolved = told
	if got := lookup(fire(0, "g1")); !reflect.DeepEqual(got, want) {
		t.Errorf("the first firing's mark after its RESOLVED: %+v, want %+v", got, want)
	}
	if got := lookup(fire(-5, "g1")); len(got) != 1 || !got[0].Resolved.IsZero() {
		t.Errorf("bob's mark of the older firing: %+v, want it as it was", got)
	}
	// Once the group's RESOLVED of the firing it paged for was answered
	// with success, a later firing of the alert was sent too (seen): no
	// fallback. A RESOLVED that failed, or of another firing, leaves it.
	if err := l.RecordPagedTo("k3", bob, []Firing{fire(20, "g3")}); err != nil {
		t.Fatal(err)
	}
	for _, note := range []struct {
		resolved Firing
		answered bool
	}{{resolved(fire(20, "g3")), false}, {resolved(fire(10, "g3")), true}, {resolved(fire(20, "g1")), true}} {
		if err := l.NoteGroup(note.resolved.Group, "am1", []Firing{note.resolved}, nil, note.answered); err != nil {
			t.Fatal(err)
		}
		if got := lookup(resolved(fire(30, "g3"))); len(got) != 1 {
			t.Errorf("resolved after an unseen refire in g3, after %+v answered %v: PagedTo = %+v, want bob", note.resolved, note.answered, got)
		}
	}
	if err := l.NoteGroup("g3", "am1", []Firing{resolved(fire(20, "g3"))}, nil, true); err != nil {
		t.Fatal(err)
	}
	if got := lookup(resolved(fire(30, "g3"))); len(got) != 0 {
		t.Errorf("resolved after a refire that the group said resolved: PagedTo = %+v, want nobody", got)
	}

	now = now.Add(time.Hour)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := l.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketPagedLast, bucketToldResolved} {
			if k, _ := tx.Bucket(name).Cursor().First(); k != nil {
				return fmt.Errorf("left %q in %s", k, name)
			}
		}
		return nil
	}); err != nil {
		t.Errorf("past the retention: %v", err)
	}
}

// TestLastPagedFiringRenewedByARepeat: a firing paged again (a repeat)
// renews its paged mark and its group's note of it alike, so the purge
// does not drop the note while the mark lives on: an unseen refire's
// RESOLVED still finds whom it paged.
func TestLastPagedFiringRenewedByARepeat(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now) // retention 1h
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	f0 := Firing{ID: "fp1|0", Since: firingSince, Alert: "fp1", Group: "g1"}
	if err := l.RecordPagedTo("k1", alice, []Firing{f0}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(40 * time.Minute)
	if err := l.RecordPagedTo("k1-repeat", alice, []Firing{f0}); err != nil { // repeat
		t.Fatal(err)
	}
	now = now.Add(40 * time.Minute) // 80 min after the first page, 40 after the repeat
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.PagedTo([]Firing{f0}); len(got[f0.ID]) != 1 {
		t.Fatalf("alice's mark of the firing, renewed by the repeat: %+v", got)
	}
	f1 := Firing{ID: "fp1|10", Since: firingSince.Add(10 * time.Minute), Resolved: true, Alert: "fp1", Group: "g1"}
	got, err := l.PagedTo([]Firing{f1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got[f1.ID]) != 1 {
		t.Errorf("RESOLVED after an unseen refire: PagedTo = %+v, want alice (her mark is within the retention)", got)
	}
}

func TestFNV64aIsHashFNV(t *testing.T) {
	for _, s := range []string{"", "a", "foobar", strings.Repeat("0123456789abcdef", 4)} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv64a(s), h.Sum64(); got != want {
			t.Errorf("fnv64a(%q) = %x, want %x", s, got, want)
		}
	}
}

// TestLastPagedFiringNotTakenBackAmongOthers: of an SMS's alerts, each new
// to its group's notes or not, an alert whose later firing is noted keeps
// that note (an SMS of an older firing written late), wherever it falls
// among the others' keys.
func TestLastPagedFiringNotTakenBackAmongOthers(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	fire := func(alert string, min int) Firing {
		return Firing{ID: fmt.Sprintf("%s|%d", alert, min), Since: firingSince.Add(time.Duration(min) * time.Minute), Alert: alert, Group: "g1"}
	}
	if err := l.RecordPagedTo("k1", alice, []Firing{fire("fp2", 20), fire("fp4", 20)}); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordPagedTo("k0", alice, []Firing{fire("fp1", 0), fire("fp2", 10), fire("fp3", 0), fire("fp4", 10), fire("fp5", 0)}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"fp1": "fp1|0", "fp2": "fp2|20", "fp3": "fp3|0", "fp4": "fp4|20", "fp5": "fp5|0"}
	for alert, id := range want {
		if last, ok := notedLast(t, l, Firing{Alert: alert, Group: "g1", Since: firingSince.Add(time.Hour)}); !ok || last.ID != id {
			t.Errorf("%s: the last paged firing noted is %q (%v), want %q", alert, last.ID, ok, id)
		}
	}
}

// notedLast is pagedLast of a in l: the last firing of a's alert in its
// group that an SMS paged someone about, when it began before a.
func notedLast(t *testing.T, l *Ledger, a Firing) (Firing, bool) {
	t.Helper()
	var last Firing
	var ok bool
	if err := l.db.View(func(tx *bolt.Tx) error {
		last, ok = pagedLast(tx.Bucket(bucketPagedLast), a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return last, ok
}

// Once the group's RESOLVED of an unseen refire (fp1|10, which reached
// alice through the note of fp1|0) was answered, Alertmanager sends the
// next firing (fp1|20) as news: whom its RESOLVED reaches is whom it
// paged, not alice again while her mark of fp1|0 waits to be noted as
// told (her RESOLVED held for quiet hours, say).
func TestNoteForgottenByTheUnseenRefiresAnsweredResolved(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	fire := func(min int) Firing {
		return Firing{ID: fmt.Sprintf("fp1|%d", min), Since: firingSince.Add(time.Duration(min) * time.Minute), Alert: "fp1", Group: "g1"}
	}
	resolved := func(f Firing) Firing { f.Resolved = true; return f }
	if err := l.RecordPagedTo("k1", alice, []Firing{fire(0)}); err != nil {
		t.Fatal(err)
	}
	// A RESOLVED that failed, or of an earlier firing, leaves the note.
	if err := l.NoteGroup("g1", "am1", []Firing{resolved(fire(10))}, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := l.NoteGroup("g1", "am1", []Firing{resolved(fire(-10))}, nil, true); err != nil {
		t.Fatal(err)
	}
	got, err := l.PagedTo([]Firing{resolved(fire(10))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got["fp1|10"]) != 1 {
		t.Fatalf("before the unseen refire's RESOLVED was answered, it reaches %+v, want alice", got["fp1|10"])
	}
	if err := l.NoteGroup("g1", "am1", []Firing{resolved(fire(10))}, nil, true); err != nil {
		t.Fatal(err)
	}
	got, err = l.PagedTo([]Firing{resolved(fire(20))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got["fp1|20"]) != 0 {
		t.Errorf("after the group's RESOLVED of fp1|10 was answered, fp1|20's RESOLVED reaches %+v, want nobody", got["fp1|20"])
	}
}

// TestLastPagedFiringComparesStartsAsTimes: starts before 1970 (negative
// on disk) order before later ones, in the note and in its forgetting; a
// RESOLVED of unknown start forgets the note of its own id only.
func TestLastPagedFiringComparesStartsAsTimes(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	fire := func(since time.Time) Firing {
		return Firing{ID: "fp1|" + since.Format(time.RFC3339), Since: since, Alert: "fp1", Group: "g1"}
	}
	before, after := time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, f := range []Firing{fire(before), fire(after)} {
		if err := l.RecordPagedTo("k-"+f.ID, alice, []Firing{f}); err != nil {
			t.Fatal(err)
		}
	}
	noted := func() (Firing, bool) { return notedLast(t, l, fire(now)) }
	if last, ok := noted(); !ok || last.ID != fire(after).ID {
		t.Errorf("the last paged firing noted is %q (%v), want %q", last.ID, ok, fire(after).ID)
	}
	later := fire(after.Add(time.Hour))
	later.Resolved = true
	if err := l.NoteGroup("g1", "am1", []Firing{later}, nil, true); err != nil {
		t.Fatal(err)
	}
	if last, ok := noted(); ok {
		t.Errorf("after the RESOLVED of a later firing was answered, %q is still noted", last.ID)
	}
	if err := l.RecordPagedTo("k2", alice, []Firing{fire(after)}); err != nil {
		t.Fatal(err)
	}
	earlier := fire(before)
	earlier.Resolved = true
	// Of an unknown start, a RESOLVED forgets only a note of its own id.
	unknown := Firing{ID: "fp1|other", Resolved: true, Alert: "fp1", Group: "g1"}
	if err := l.NoteGroup("g1", "am1", []Firing{earlier, unknown}, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, ok := noted(); !ok {
		t.Error("the RESOLVED of an earlier firing, or of another of unknown start, answered, forgot the note of a later one")
	}
	unknown.ID = fire(after).ID
	if err := l.NoteGroup("g1", "am1", []Firing{unknown}, nil, true); err != nil {
		t.Fatal(err)
	}
	if last, ok := noted(); ok {
		t.Errorf("the RESOLVED of the noted firing, its start unknown, answered, left %q noted", last.ID)
	}
}

// TestLastPagedFiringKeptWhereverTheWalkFindsIt: the notes of an SMS's
// alerts are put in one walk beside those noted, which searches afresh
// where other notes lie between two of its keys; whichever way it reaches
// a note, a later firing noted keeps it, in any group and at any distance,
// and of an alert given twice in one SMS (a hand-made post) the later
// firing is noted.
func TestLastPagedFiringKeptWhereverTheWalkFindsIt(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	rng := rand.New(rand.NewPCG(3, 4))
	groups := []string{"g1", "g2", "g3"}
	last := map[[2]string]int{} // group and alert: the latest minute paged
	for sms := range 60 {
		var alerts []Firing
		n := 1 + rng.IntN(120)
		if sms%10 == 0 {
			n = 1 + rng.IntN(3) // a few keys far apart
		}
		group := groups[rng.IntN(len(groups))]
		for range n {
			if sms%7 == 0 { // an SMS of several groups
				group = groups[rng.IntN(len(groups))]
			}
			alert := fmt.Sprintf("fp%03d", rng.IntN(300))
			min := rng.IntN(60)
			alerts = append(alerts, Firing{ID: fmt.Sprintf("%s|%d", alert, min), Since: firingSince.Add(time.Duration(min) * time.Minute), Alert: alert, Group: group})
			if m, ok := last[[2]string{group, alert}]; !ok || min > m {
				last[[2]string{group, alert}] = min
			}
		}
		if err := l.RecordPagedTo(fmt.Sprintf("k%d", sms), alice, alerts); err != nil {
			t.Fatal(err)
		}
	}
	for ga, min := range last {
		got, ok := notedLast(t, l, Firing{Alert: ga[1], Group: ga[0], Since: firingSince.Add(2 * time.Hour)})
		if want := fmt.Sprintf("%s|%d", ga[1], min); !ok || got.ID != want {
			t.Errorf("%s in %s: the last paged firing noted is %q (%v), want %q", ga[1], ga[0], got.ID, ok, want)
		}
	}
}

// TestStormsFillTheirPages: a storm's paged marks and its group's notes,
// each a run of sorted keys, fill the pages they take, as the log of sends
// does: split at bbolt's default, a storm's pages were half empty, and it
// wrote twice the pages its entries need. Late marks of a few alerts in
// between still split the default way (TestTimeKeyedBucketsFillTheirPages
// fails when they do not), in commits of their own
// (TestStormMarksCommitAlone).
func TestStormsFillTheirPages(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	to := PagedRecipient{Number: "+4915112345678", Contact: "alice", Route: "oncall"}
	late := rand.New(rand.NewPCG(5, 6))
	for storm := range 6 {
		now = now.Add(time.Minute)
		group := fmt.Sprintf("{}:{alertname=%q}", fmt.Sprint("Storm", storm))
		alerts := make([]Firing, 2000)
		for i := range alerts {
			alert := fmt.Sprintf("%.8x", sha256.Sum256(fmt.Appendf(nil, "%d/%d", storm, i)))
			alerts[i] = Firing{ID: alert + "|1", Since: now.Add(-time.Duration(i%30) * time.Second), Alert: alert, Group: group}
		}
		if err := l.RecordPagedTo(fmt.Sprintf("storm%d", storm), to, alerts); err != nil {
			t.Fatal(err)
		}
		for i := range 20 { // alerts that joined other groups minutes ago
			alert := fmt.Sprintf("late%d-%d", storm, i)
			since := now.Add(-time.Duration(late.Int64N(int64(5 * time.Minute))))
			if err := l.RecordPagedTo(fmt.Sprintf("late%d-%d", storm, i), to, []Firing{{ID: alert + "|1", Since: since, Alert: alert, Group: fmt.Sprint("g", i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkFill(t, l, bucketPagedSince, 20, 0.8)
	checkFill(t, l, bucketPagedLast, 20, 0.8)
}

// TestStormMarksCommitAlone: the marks of a storm, whose pages split
// fuller, do not share their commit with other writes, which would split
// theirs as full (bbolt reads a bucket's fill once, at the commit): a late
// mark among full pages would leave pieces that stay small. Writes queued
// before and after it still commit together.
func TestStormMarksCommitAlone(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var told []int
	l, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: func() time.Time { return now },
		Committed: func(writes int, _ time.Duration) {
			mu.Lock()
			told = append(told, writes)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	to := PagedRecipient{Number: "+4915112345678", Contact: "alice", Route: "oncall"}
	storm := make([]Firing, minRun)
	for i := range storm {
		alert := fmt.Sprintf("storm%d", i)
		storm[i] = Firing{ID: alert + "|1", Since: now, Alert: alert, Group: "g1"}
	}
	late := func(i int) []Firing {
		alert := fmt.Sprintf("late%d", i)
		return []Firing{{ID: alert + "|1", Since: now.Add(-time.Minute), Alert: alert, Group: "g2"}}
	}
	release, wait := holdCommit(t, l.group, func(*bolt.Tx) error { return nil })
	writes := [][]Firing{late(1), late(2), storm, late(3), late(4)}
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, alerts := range writes {
		wg.Go(func() { errs[i] = l.RecordPagedTo(fmt.Sprint("k", i), to, alerts) })
		waitQueued(t, l.group, i+1) // in this order
	}
	release()
	wg.Wait()
	if err := errors.Join(append(errs, wait())...); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The held write; the two late marks before the storm; the storm
	// alone; the two after it.
	if want := []int{1, 2, 1, 2}; !slices.Equal(told, want) {
		t.Errorf("commits of %v writes, want %v", told, want)
	}
	got, err := l.PagedTo(append(storm[:1:1], late(4)...))
	if err != nil || len(got) != 2 {
		t.Errorf("PagedTo = %v, %v; want the storm's alert and the last late one paged", got, err)
	}
}
