package ledger

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestHeldInDoubt: the in-doubt mark of a held SMS is taken with its
// send only if nothing it tells of changed, names what it told, keeps
// those alerts from being cancelled while it lives, and goes with the
// SMS's release, its unsent send, or the purge.
func TestHeldInDoubt(t *testing.T) {
	now := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	one := []Window{{Max: 1, Per: time.Hour}}
	disk, cpu, late := HeldAlert{ID: "fp1|1", Name: "DiskFull"}, HeldAlert{ID: "fp2|1", Name: "HighCPU"}, HeldAlert{ID: "fp3|1", Name: "Late"}
	if err := l.Hold(number, now, []HeldAlert{disk, cpu}); err != nil {
		t.Fatal(err)
	}
	mark := Doubt{Number: number, Text: "held", Since: now, Last: now}
	take := func() (HeldSMS, error) {
		t.Helper()
		due, err := l.DueHeld(now)
		if err != nil || len(due) != 1 {
			t.Fatalf("DueHeld = %+v, %v; want one SMS", due, err)
		}
		_, ok, err := l.TakeHeld(due[0], mark, 2, one, Window{}, false)
		if err == nil && !ok {
			t.Fatal("TakeHeld not allowed")
		}
		return due[0], err
	}

	// cpu is cancelled between DueHeld and TakeHeld: nothing is taken.
	due, err := l.DueHeld(now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, n, err := l.CancelHeld(ids(cpu.ID)); err != nil || n != 1 {
		t.Fatalf("CancelHeld = %d, %v", n, err)
	}
	if _, _, err := l.TakeHeld(due[0], mark, 2, one, Window{}, false); !errors.Is(err, ErrHeldChanged) {
		t.Fatalf("TakeHeld of a changed SMS: %v, want ErrHeldChanged", err)
	}
	h, err := take()
	if err != nil {
		t.Fatalf("TakeHeld after the change: %v (the refused one took the window)", err)
	}
	if _, _, err := l.TakeHeld(h, mark, 2, nil, Window{}, false); !errors.Is(err, ErrHeldChanged) {
		t.Errorf("a second TakeHeld: %v, want ErrHeldChanged", err)
	}

	// What joins the same end later is not part of it, and can be
	// cancelled; what it told cannot.
	if err := l.Hold(number, now, []HeldAlert{late}); err != nil {
		t.Fatal(err)
	}
	if due, err := l.DueHeld(now); err != nil || len(due) != 1 || len(due[0].Alerts) != 1 || due[0].Alerts[0].ID != disk.ID || due[0].Doubt == nil || due[0].Doubt.Text != "held" {
		t.Fatalf("DueHeld in doubt = %+v, %v; want disk alone with the mark", due, err)
	}
	held, inDoubt, n, err := l.CancelHeld(ids(cpu.ID, disk.ID))
	if err != nil || n != 0 || !reflect.DeepEqual(inDoubt, map[string][]string{disk.ID: {number}}) || len(held[disk.ID]) != 1 {
		t.Errorf("CancelHeld of a told alert = %v, %v, %d, %v; want it in doubt, nothing cancelled", held, inDoubt, n, err)
	}
	// Whom it may have told counts as paged meanwhile.
	if paged, err := l.PagedTo([]Firing{{ID: disk.ID}, {ID: cpu.ID}}); err != nil || len(paged) != 1 || len(paged[disk.ID]) != 1 || paged[disk.ID][0].Number != number || !paged[disk.ID][0].At.Equal(now) {
		t.Errorf("PagedTo while in doubt = %+v, %v; want disk paged to %s", paged, err, number)
	}
	if held, inDoubt, err := l.HeldFor(ids(disk.ID, cpu.ID)); err != nil || len(held[disk.ID]) != 1 || !reflect.DeepEqual(inDoubt, map[string][]string{disk.ID: {number}}) {
		t.Errorf("HeldFor = %v, %v, %v; want the alert still held, in doubt, as CancelHeld says", held, inDoubt, err)
	}
	if _, _, n, err := l.CancelHeld(ids(late.ID)); err != nil || n != 1 {
		t.Errorf("CancelHeld of the late alert = %d, %v; want it cancelled", n, err)
	}

	again := mark
	again.Resends, again.Last = 1, now.Add(time.Minute)
	if err := l.MarkHeldDoubt(h, again); err != nil {
		t.Fatal(err)
	}
	if due, _ := l.DueHeld(now); len(due) != 1 || *due[0].Doubt != again {
		t.Errorf("after MarkHeldDoubt: %+v", due)
	}

	// Certainly not sent: the mark goes and the send is refunded.
	if err := l.HeldUnsent(h, now); err != nil {
		t.Fatal(err)
	}
	if due, _ := l.DueHeld(now); len(due) != 1 || due[0].Doubt != nil {
		t.Errorf("after HeldUnsent: %+v, want it held without a mark", due)
	}
	if err := l.MarkHeldDoubt(h, again); err == nil {
		t.Error("MarkHeldDoubt without a mark: no error")
	}
	h, err = take() // the window has room again
	if err != nil {
		t.Fatal(err)
	}
	if err := l.ReleaseHeld(h, true); err != nil {
		t.Fatal(err)
	}
	if due, _ := l.DueHeld(now); len(due) != 0 {
		t.Errorf("after the release: %+v", due)
	}
	if _, inDoubt, n, err := l.CancelHeld(ids(disk.ID)); err != nil || n != 0 || len(inDoubt) != 0 {
		t.Errorf("CancelHeld after the release = %d, %v", n, err)
	}

	// A mark whose SMS is never settled goes with what it held, a paged
	// retention after its end, not before.
	if err := l.Hold("+492", now, []HeldAlert{disk}); err != nil {
		t.Fatal(err)
	}
	due, _ = l.DueHeld(now)
	if len(due) != 1 {
		t.Fatalf("due = %+v", due)
	}
	unsettled := due[0]
	if _, ok, err := l.TakeHeld(unsettled, mark, 2, nil, Window{}, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	now = now.Add(59 * time.Minute)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if due, _ := l.DueHeld(now); len(due) != 1 || due[0].Doubt == nil {
		t.Errorf("purged within the retention: %+v", due)
	}
	now = now.Add(time.Minute)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if due, _ := l.DueHeld(now); len(due) != 0 {
		t.Errorf("after the purge: %+v", due)
	}
	if err := l.MarkHeldDoubt(unsettled, mark); err == nil {
		t.Error("the mark outlived the purge")
	}
}

// TestDigestInDoubt: a digest's mark is taken with its send, one at a
// time per number, keeps what it covered, and goes with Digested, its
// unsent send, or the purge.
func TestDigestInDoubt(t *testing.T) {
	now := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	one := []Window{{Max: 1, Per: time.Hour}}
	if err := l.Suppress(number, Suppressed{Alerts: 2, Names: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	owed, _ := l.Pending()
	mark := DigestDoubt{Doubt: Doubt{Number: number, Text: "digest", Since: now, Last: now}, Covered: owed[number]}
	at, ok, err := l.TakeDigest(number, mark, one, Window{})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, _, err := l.TakeDigest(number, mark, nil, Window{}); !errors.Is(err, ErrDigestChanged) {
		t.Errorf("a second TakeDigest: %v, want ErrDigestChanged", err)
	}
	if err := l.Suppress(number, Suppressed{Alerts: 1, Names: []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	again := mark.Doubt
	again.Resends = 1
	if err := l.MarkDigestDoubt(number, again); err != nil {
		t.Fatal(err)
	}
	doubts, err := l.DigestsInDoubt()
	if got := doubts[number]; err != nil || got.Resends != 1 || got.Covered.Alerts != 2 {
		t.Fatalf("DigestsInDoubt = %+v, %v; want the resend counted, the first two covered", doubts, err)
	}
	if err := l.DigestUnsent(number, at); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 0 {
		t.Errorf("after DigestUnsent: %+v", doubts)
	}
	// Refunded: the window has room again, for what it covered and what
	// came meanwhile.
	owed, _ = l.Pending()
	if got := owed[number]; got.Alerts != 3 || strings.Join(got.Names, ",") != "A,B" {
		t.Fatalf("owed after DigestUnsent: %+v, want A's two and B's one", owed)
	}
	mark.Covered = owed[number]
	if _, ok, err := l.TakeDigest(number, mark, one, Window{}); err != nil || !ok {
		t.Fatalf("TakeDigest after the refund: %v, %v", ok, err)
	}
	if err := l.Suppress(number, Suppressed{Alerts: 1, Names: []string{"C"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Digested(number); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 0 {
		t.Errorf("after Digested: %+v", doubts)
	}
	if owed, _ := l.Pending(); owed[number].Alerts != 1 || len(owed[number].Names) != 1 || owed[number].Names[0] != "C" {
		t.Errorf("owed after the digest: %+v, want C alone", owed)
	}
	if err := l.Suppress(number, Suppressed{Alerts: 1, Names: []string{"D"}}); err != nil {
		t.Fatal(err)
	}
	owed, _ = l.Pending()
	mark.Covered = owed[number]

	if _, ok, err := l.TakeDigest(number, mark, nil, Window{}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	now = now.Add(59 * time.Minute)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 1 {
		t.Errorf("purged within the retention: %+v", doubts)
	}
	now = now.Add(time.Minute)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 0 {
		t.Errorf("after the retention: %+v", doubts)
	}
}

// TestDigestLeavesWhatCameWhileItWasSent: what a limit holds back while a
// digest is out is the next digest's, named and dated by itself, also
// when it has a name the first one told: each digest tells of what came
// since the one before, no more and no less.
func TestDigestLeavesWhatCameWhileItWasSent(t *testing.T) {
	start := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	now := start
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 2, Names: []string{"HighCPU"}}); err != nil {
		t.Fatal(err)
	}
	owed, _ := l.Pending()
	mark := DigestDoubt{Doubt: Doubt{Number: number, Text: "digest", Since: now, Last: now}, Covered: owed[number]}
	if _, ok, err := l.TakeDigest(number, mark, nil, Window{}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	now = now.Add(time.Minute)
	later := now
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 1, Names: []string{"HighCPU"}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := l.Digested(number); err != nil {
		t.Fatal(err)
	}
	owed, _ = l.Pending()
	if got := owed[number]; got.Alerts != 1 || strings.Join(got.Names, ",") != "HighCPU" || got.MoreNames != 0 || !got.Since.Equal(later) {
		t.Errorf("owed after the digest: %+v; want 1 firing, HighCPU, since %v", got, later)
	}

	// Not sent after all: what it covered is owed again, first, with its
	// own start, beside what came meanwhile.
	mark.Covered = owed[number]
	at, ok, err := l.TakeDigest(number, mark, nil, Window{})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 1, Resolved: 2, Names: []string{"DiskFull"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.DigestUnsent(number, at); err != nil {
		t.Fatal(err)
	}
	owed, _ = l.Pending()
	if got := owed[number]; got.Alerts != 2 || got.Resolved != 2 || strings.Join(got.Names, ",") != "HighCPU,DiskFull" || !got.Since.Equal(later) {
		t.Errorf("owed after a digest not sent: %+v; want 2 firing, 2 resolved, HighCPU and DiskFull, since %v", got, later)
	}

	// What is owed changed since it was read: nothing is taken.
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 1, Names: []string{"HighCPU"}}); err != nil {
		t.Fatal(err)
	}
	mark.Covered = owed[number]
	if _, _, err := l.TakeDigest(number, mark, nil, Window{}); !errors.Is(err, ErrDigestChanged) {
		t.Errorf("TakeDigest of what changed: %v, want ErrDigestChanged", err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 0 {
		t.Errorf("in doubt after a refused take: %+v", doubts)
	}
}

// TestDigestInDoubtOfAnOlderVersion: an older version left what its digest
// in doubt covered in what is owed; Open takes it off, so that it is told
// once, and what was held back since stays.
func TestDigestInDoubtOfAnOlderVersion(t *testing.T) {
	now := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path, &now)
	const number = "+491"
	if err := l.Suppress(number, Suppressed{Alerts: 2, Resolved: 1, Names: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	owed, _ := l.Pending()
	old := DigestDoubt{Doubt: Doubt{Number: number, Text: "digest", Since: now, Last: now}, Covered: owed[number]}
	if err := l.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketDigestDoubts), []byte(number), old)
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Suppress(number, Suppressed{Alerts: 1, Names: []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	for range 2 { // the second Open finds nothing more to take off
		l = open(t, path, &now)
		owed, _ = l.Pending()
		if got := owed[number]; got.Alerts != 1 || got.Resolved != 0 || strings.Join(got.Names, ",") != "B" {
			t.Errorf("owed after Open: %+v, want B's one alone", owed)
		}
		l.Close()
	}
	l = open(t, path, &now)
	defer l.Close()
	if doubts, _ := l.DigestsInDoubt(); doubts[number].Covered.Alerts != 2 {
		t.Fatalf("the mark after Open: %+v, want it kept", doubts)
	}
	if err := l.Digested(number); err != nil {
		t.Fatal(err)
	}
	if owed, _ := l.Pending(); owed[number].Alerts != 1 {
		t.Errorf("owed after the old digest was settled: %+v, want B's one", owed)
	}
}

// TestDigestInDoubtStaysOutstanding: what a digest of unknown outcome
// covered is not owed for the next digest, but shows as outstanding (on
// the status page, in digests_owed) with what came since, and is owed
// again, not lost, if the mark outlives the retention unsettled.
func TestDigestInDoubtStaysOutstanding(t *testing.T) {
	now := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 3, Names: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	owed, _ := l.Pending()
	digest(t, l, number, owed[number])
	now = now.Add(time.Minute)
	if err := l.Suppress(number, Suppressed{Contact: "alice", Alerts: 1, Names: []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	out, err := l.Outstanding()
	if got := out[number]; err != nil || got.Alerts != 4 || strings.Join(got.Names, ",") != "A,B" || !got.Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("Outstanding = %+v, %v; want the digest's 3 (A) and B's 1, since the first", out, err)
	}
	now = now.Add(time.Hour)
	if _, err := l.Purge(time.Hour); err != nil {
		t.Fatal(err)
	}
	if doubts, _ := l.DigestsInDoubt(); len(doubts) != 0 {
		t.Fatalf("the mark outlived the retention: %+v", doubts)
	}
	if owed, _ := l.Pending(); owed[number].Alerts != 4 {
		t.Errorf("owed after the purge = %+v, want the 3 it covered back with B's 1", owed)
	}
}

// TestDigestNotBefore: a digest of SMS that sipgate was to send later
// waits for the latest of them; anything else held back makes it due.
func TestDigestNotBefore(t *testing.T) {
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	const number = "+491"
	morning, later := now.Add(8*time.Hour), now.Add(9*time.Hour)
	for _, tc := range []struct {
		notBefore, want time.Time
	}{
		{morning, morning},
		{later, later},
		{morning, later},
		{time.Time{}, time.Time{}},
		{later, time.Time{}},
	} {
		if err := l.Suppress(number, Suppressed{Alerts: 1, NotBefore: tc.notBefore}); err != nil {
			t.Fatal(err)
		}
		if owed, _, _ := l.Owed(number); !owed.NotBefore.Equal(tc.want) {
			t.Errorf("after one held back until %v: not before %v, want %v", tc.notBefore, owed.NotBefore, tc.want)
		}
	}
	// A digest due already stays due when the next night's SMS join it.
	if err := l.Suppress("+492", Suppressed{Alerts: 1, NotBefore: morning}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	if err := l.Suppress("+492", Suppressed{Alerts: 1, NotBefore: morning.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if owed, _, _ := l.Owed("+492"); !owed.NotBefore.IsZero() {
		t.Errorf("a digest due since the morning waits until %v", owed.NotBefore)
	}
}
