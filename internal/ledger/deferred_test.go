package ledger

import (
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestHeldAcrossRestarts: what quiet hours hold is kept across a restart,
// comes due when they end, and once released is gone and paged.
func TestHeldAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	morning := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, path, &now)
	disk := HeldAlert{ID: "fp1|1", Since: firingSince, Name: "DiskFull", Alert: "fp1", Group: "g1", Contact: "alice", Route: "team", Rank: 2, URL: "http://am:9093"}
	cpu := HeldAlert{ID: "fp2|1", Name: "HighCPU", Contact: "alice", Route: "team", Rank: 3, URL: "http://am:9093"}
	done := HeldAlert{ID: "fp3|1", Name: "Old", Contact: "alice", Route: "team", Rank: 2, Resolved: true}
	if err := l.Hold("+491", morning, []HeldAlert{disk, done}); err != nil {
		t.Fatal(err)
	}
	held := now
	now = now.Add(time.Hour)
	// A retry holds the same again, and another alert: the first keeps its
	// time.
	if err := l.Hold("+491", morning, []HeldAlert{disk, cpu}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, path, &now)
	defer func() { l.Close() }()

	if due, err := l.DueHeld(morning.Add(-time.Second)); err != nil || len(due) != 0 {
		t.Fatalf("before the end: DueHeld = %+v, %v; want nothing", due, err)
	}
	if n, oldest, err := l.HeldCount(); err != nil || n != 1 || !oldest.Equal(held) {
		t.Errorf("HeldCount = %d, %s, %v; want 1 SMS held since %s", n, oldest, err, held)
	}
	due, err := l.DueHeld(morning)
	if err != nil {
		t.Fatal(err)
	}
	at := func(a HeldAlert, t time.Time) HeldAlert { a.At = t; return a }
	want := []HeldSMS{{Number: "+491", Until: morning, Alerts: []HeldAlert{at(disk, held), at(cpu, now), at(done, held)}}}
	if !reflect.DeepEqual(utc(due), want) {
		t.Fatalf("DueHeld = %+v\nwant      %+v", due, want)
	}

	if err := l.ReleaseHeld(due[0], true); err != nil {
		t.Fatal(err)
	}
	if due, err := l.DueHeld(morning); err != nil || len(due) != 0 {
		t.Errorf("after the release: DueHeld = %+v, %v; want nothing", due, err)
	}
	if n, _, err := l.HeldCount(); err != nil || n != 0 {
		t.Errorf("after the release: HeldCount = %d, %v", n, err)
	}
	// cpu's start is unknown, as in entries held by an older version.
	paged, err := l.PagedTo(firing("fp1|1", "fp2|1", "fp3|1"))
	if err != nil {
		t.Fatal(err)
	}
	to := PagedRecipient{Number: "+491", Contact: "alice", Route: "team", At: now}
	if want := map[string][]PagedRecipient{"fp1|1": {to}, "fp2|1": {to}}; !reflect.DeepEqual(normalize(paged), want) {
		t.Errorf("paged after the release: %+v, want the firing alerts paged to alice by team", paged)
	}
	// disk resolves after it fired again unseen: its RESOLVED goes to alice.
	again := Firing{ID: "fp1|2", Since: firingSince.Add(time.Hour), Resolved: true, Alert: "fp1", Group: "g1"}
	if paged, err := l.PagedTo([]Firing{again}); err != nil || !reflect.DeepEqual(normalize(paged), map[string][]PagedRecipient{again.ID: {to}}) {
		t.Errorf("disk resolved with a later start: PagedTo = %+v, %v; want alice, by the firing held for her", paged, err)
	}
	if err := l.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPagedSince).Get(append(appendPagedPrefix(nil, Firing{ID: disk.ID, Since: disk.Since}), "+491"...)) == nil {
			t.Error("a released alert of a known start is not marked by its start")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if held, _, err := l.HeldFor(ids("fp1|1")); err != nil || len(held) != 0 {
		t.Errorf("after the release: HeldFor = %v, %v; want nothing", held, err)
	}
}

// TestHeldCancelledByResolved: a resolved alert cancels its held firing
// SMS for everyone it is held for, whatever the end; a retry of that
// notification still finds whom it was held for, until the dedup window
// ends; an SMS with nothing left is not due.
func TestHeldCancelledByResolved(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	morning := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	monday := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	disk := HeldAlert{ID: "fp1|1", Since: firingSince, Name: "DiskFull"}
	cpu := HeldAlert{ID: "fp2|1", Name: "HighCPU"}
	// An id that extends another's by a NUL is another alert.
	odd := HeldAlert{ID: "fp1|1\x00x", Name: "Odd"}
	for _, h := range []struct {
		number string
		until  time.Time
		alerts []HeldAlert
	}{{"+491", morning, []HeldAlert{disk, cpu}}, {"+492", monday, []HeldAlert{disk}}, {"+493", morning, []HeldAlert{odd}}} {
		if err := l.Hold(h.number, h.until, h.alerts); err != nil {
			t.Fatal(err)
		}
	}

	got, _, n, err := l.CancelHeld(ids("fp1|1", "fp9|1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"fp1|1": {"+491", "+492"}}; n != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("CancelHeld = %v, %d; want %v, 2", got, n, want)
	}
	// The retry: the same answer, nothing cancelled again.
	if again, _, n, err := l.CancelHeld(ids("fp1|1")); err != nil || n != 0 || !reflect.DeepEqual(again, got) {
		t.Errorf("CancelHeld again = %v, %d, %v; want %v, 0", again, n, err, got)
	}
	// Holding it again (a late copy of the firing notification) does not
	// bring it back.
	if err := l.Hold("+492", monday, []HeldAlert{disk}); err != nil {
		t.Fatal(err)
	}
	due, err := l.DueHeld(monday)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due[0].Number != "+491" || len(due[0].Alerts) != 1 || due[0].Alerts[0].ID != "fp2|1" || due[1].Number != "+493" {
		t.Errorf("DueHeld = %+v, want HighCPU to +491 and Odd to +493, nothing to +492", due)
	}

	now = now.Add(10 * time.Minute)
	if n, err := l.Purge(time.Hour); err != nil || n != 2 {
		t.Errorf("Purge = %d, %v; want the 2 cancelled entries", n, err)
	}
	if held, _, err := l.HeldFor(ids("fp1|1")); err != nil || len(held) != 0 {
		t.Errorf("after the purge: HeldFor = %v, %v; want nothing", held, err)
	}
}

// TestHeldPurgedLongAfterTheEnd: an SMS that could not go out for a paged
// retention after its quiet hours ended is forgotten.
func TestHeldPurgedLongAfterTheEnd(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	morning := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	if err := l.Hold("+491", morning, []HeldAlert{{ID: "fp1|1"}}); err != nil {
		t.Fatal(err)
	}
	now = morning.Add(59 * time.Minute)
	if n, err := l.Purge(time.Hour); err != nil || n != 0 {
		t.Errorf("within the retention: Purge = %d, %v; want 0", n, err)
	}
	now = morning.Add(time.Hour)
	if n, err := l.Purge(time.Hour); err != nil || n != 1 {
		t.Errorf("past the retention: Purge = %d, %v; want 1", n, err)
	}
	if held, _, err := l.HeldFor(ids("fp1|1")); err != nil || len(held) != 0 {
		t.Errorf("after the purge: HeldFor = %v, %v; want nothing", held, err)
	}
}

// TestReleaseHeldUnpaged: an SMS given up is forgotten without paged
// marks: nobody heard of its alerts.
func TestReleaseHeldUnpaged(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	h := HeldSMS{Number: "+491", Until: now, Alerts: []HeldAlert{{ID: "fp1|1", Contact: "alice"}}}
	if err := l.Hold(h.Number, h.Until, h.Alerts); err != nil {
		t.Fatal(err)
	}
	if err := l.ReleaseHeld(h, false); err != nil {
		t.Fatal(err)
	}
	if paged, err := l.PagedTo(firing("fp1|1")); err != nil || len(paged) != 0 {
		t.Errorf("PagedTo = %v, %v; want nothing", paged, err)
	}
	if due, err := l.DueHeld(now); err != nil || len(due) != 0 {
		t.Errorf("DueHeld = %v, %v; want nothing", due, err)
	}
}

// TestPagedSupersedesHeld: an alert that reaches a number by any SMS is
// no longer told by what quiet hours hold for that number, under any end
// of them; what is held for others, and what a held SMS in doubt tells
// of, stay.
func TestPagedSupersedesHeld(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	seven, eight := now.Add(8*time.Hour), now.Add(9*time.Hour)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	disk := HeldAlert{ID: "fp1|1", Since: firingSince, Name: "DiskFull", Contact: "alice"}
	cpu := HeldAlert{ID: "fp2|1", Since: firingSince, Name: "HighCPU", Contact: "alice"}
	for _, h := range []HeldSMS{
		{Number: "+491", Until: seven, Alerts: []HeldAlert{disk, cpu}},
		{Number: "+491", Until: eight, Alerts: []HeldAlert{disk}}, // a reload moved the end
		{Number: "+492", Until: seven, Alerts: []HeldAlert{disk}},
	} {
		if err := l.Hold(h.Number, h.Until, h.Alerts); err != nil {
			t.Fatal(err)
		}
	}
	// The 07:00 SMS to +491 is being sent when DiskFull reaches +491 by
	// another SMS.
	due, err := l.DueHeld(seven)
	if err != nil || len(due) != 2 || due[0].Number != "+491" {
		t.Fatalf("DueHeld = %+v, %v", due, err)
	}
	if _, ok, err := l.TakeHeld(due[0], Doubt{Number: "+491", Text: "held", Since: seven, Last: seven}, 2, nil, Window{}, false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := l.RecordPagedTo("k1", PagedRecipient{Number: "+491", Contact: "alice", Route: "ops"}, []Firing{{ID: disk.ID, Since: disk.Since}}); err != nil {
		t.Fatal(err)
	}
	due, err = l.DueHeld(eight)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range due {
		for _, a := range h.Alerts {
			got = append(got, h.Number+" "+h.Until.UTC().Format("15:04")+" "+a.Name)
		}
	}
	want := []string{"+491 07:00 DiskFull", "+491 07:00 HighCPU", "+492 07:00 DiskFull"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("held after DiskFull reached +491: %q, want %q (the 08:00 entry superseded, the one in doubt and +492's kept)", got, want)
	}
	if n, _, err := l.HeldCount(); err != nil || n != 2 {
		t.Errorf("HeldCount = %d, %v; want 2 SMS", n, err)
	}
}

// TestReleaseHeldNotesResolved: the held SMS that tells an alert resolved
// notes so in the paged mark of whom it tells, as any resolved SMS does.
func TestReleaseHeldNotesResolved(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	disk := Firing{ID: "fp1|1", Since: firingSince}
	if err := l.RecordPaged("k1", "+491", []Firing{disk}); err != nil {
		t.Fatal(err)
	}
	h := HeldSMS{Number: "+491", Until: now, Alerts: []HeldAlert{{ID: disk.ID, Since: disk.Since, Resolved: true, Contact: "alice"}}}
	if err := l.Hold(h.Number, h.Until, h.Alerts); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := l.ReleaseHeld(h, true); err != nil {
		t.Fatal(err)
	}
	paged, err := l.PagedTo([]Firing{disk})
	if err != nil || len(paged[disk.ID]) != 1 || !paged[disk.ID][0].Resolved.Equal(now) {
		t.Errorf("PagedTo = %+v, %v; want +491's mark told resolved at %s", paged, err, now)
	}
}

func utc(due []HeldSMS) []HeldSMS {
	for i := range due {
		due[i].Until = due[i].Until.UTC()
		for j := range due[i].Alerts {
			due[i].Alerts[j].At = due[i].Alerts[j].At.UTC()
		}
	}
	return due
}

// ids are the firings of the alert ids, as a caller that knows nothing
// more of them asks.
func ids(alerts ...string) []Firing {
	out := make([]Firing, len(alerts))
	for i, id := range alerts {
		out[i] = Firing{ID: id}
	}
	return out
}

// TestHeldCancelledByTheResolvedOfALaterFiring: the alert resolved and
// fired again, with a later start, between two notifications of its
// group, which sent neither; its RESOLVED then carries the later start.
// The firing SMS held of the earlier firing tells of an alert that has
// ended: it is cancelled, and its recipient counts as one who never heard
// of the alert. A later firing held, another alert that shares the id's
// beginning, and an entry held before the alert was kept are left.
func TestHeldCancelledByTheResolvedOfALaterFiring(t *testing.T) {
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	morning := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	at := func(min int) time.Time { return firingSince.Add(time.Duration(min) * time.Minute) }
	earlier := HeldAlert{ID: "fp1|0", Since: at(0), Name: "DiskFull", Alert: "fp1", Group: "g1"}
	later := HeldAlert{ID: "fp1|20", Since: at(20), Name: "DiskFull", Alert: "fp1", Group: "g1"}
	other := HeldAlert{ID: "fp10|0", Since: at(0), Name: "Other", Alert: "fp10", Group: "g1"}
	unknown := HeldAlert{ID: "fp1|-5", Since: at(-5), Name: "DiskFull"} // held before Alert was kept
	for number, alerts := range map[string][]HeldAlert{"+491": {earlier}, "+492": {later}, "+493": {other}, "+494": {unknown}} {
		if err := l.Hold(number, morning, alerts); err != nil {
			t.Fatal(err)
		}
	}
	resolved := []Firing{{ID: "fp1|10", Since: at(10), Resolved: true, Alert: "fp1", Group: "g1"}}
	if held, _, err := l.HeldFor(resolved); err != nil || !reflect.DeepEqual(held, map[string][]string{"fp1|10": {"+491"}}) {
		t.Errorf("HeldFor = %v, %v; want the earlier firing's recipient", held, err)
	}
	held, _, n, err := l.CancelHeld(resolved)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"fp1|10": {"+491"}}; n != 1 || !reflect.DeepEqual(held, want) {
		t.Errorf("CancelHeld = %v, %d; want %v, 1", held, n, want)
	}
	due, err := l.DueHeld(morning)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, h := range due {
		left = append(left, h.Number)
	}
	if want := []string{"+492", "+493", "+494"}; !slices.Equal(left, want) {
		t.Errorf("due at 07:00 for %v, want %v", left, want)
	}
}

// TestHeldUnseenRefireResolvedNotesTheEarlierMark: alice was paged by the
// first firing of an alert in two groups. At night it resolves and fires
// again unseen; group g1's RESOLVED, of the later start, reaches her
// through g1's note of the first firing and is held for 07:00, and once
// answered g1 forgets that note. The morning SMS still notes her mark of
// the first firing as told: g2's RESOLVED of it, later, is no news to her.
func TestHeldUnseenRefireResolvedNotesTheEarlierMark(t *testing.T) {
	now := time.Date(2026, 11, 26, 6, 20, 0, 0, time.UTC)
	morning := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now) // retention 1h
	defer l.Close()
	alice := PagedRecipient{Number: "+491", Contact: "alice", Route: "team"}
	first := func(group string) Firing {
		return Firing{ID: "fp1|0", Since: firingSince, Alert: "fp1", Group: group}
	}
	for _, g := range []string{"g1", "g2"} {
		if err := l.RecordPagedTo("k-"+g, alice, []Firing{first(g)}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(10 * time.Minute)
	refire := HeldAlert{ID: "fp1|10", Since: firingSince.Add(10 * time.Minute), Name: "DiskFull", Resolved: true, Alert: "fp1", Group: "g1", Contact: "alice", Route: "team"}
	if err := l.Hold(alice.Number, morning, []HeldAlert{refire}); err != nil {
		t.Fatal(err)
	}
	resolved := Firing{ID: refire.ID, Since: refire.Since, Resolved: true, Alert: "fp1", Group: "g1"}
	if err := l.NoteGroup("g1", "am1", []Firing{resolved}, nil, true); err != nil {
		t.Fatal(err)
	}
	now = morning
	due, err := l.DueHeld(morning)
	if err != nil || len(due) != 1 {
		t.Fatalf("DueHeld = %+v, %v; want alice's SMS", due, err)
	}
	if err := l.ReleaseHeld(due[0], true); err != nil {
		t.Fatal(err)
	}
	g2 := first("g2")
	g2.Resolved = true
	got, err := l.PagedTo([]Firing{g2})
	if err != nil {
		t.Fatal(err)
	}
	if marks := got[g2.ID]; len(marks) != 1 || !marks[0].Resolved.Equal(morning) {
		t.Errorf("alice's mark of the first firing after the morning SMS: %+v, want told resolved at %s", marks, morning)
	}
}
