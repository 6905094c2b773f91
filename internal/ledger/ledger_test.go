package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string, now *time.Time) *Ledger {
	t.Helper()
	l, err := Open(path, Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// firingSince is when the alerts of the tests began firing.
var firingSince = time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)

// firing are the firings of the alert ids, all begun at firingSince.
func firing(ids ...string) []Firing {
	out := make([]Firing, len(ids))
	for i, id := range ids {
		out[i] = Firing{ID: id, Since: firingSince}
	}
	return out
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

	// Under half the window: a lookup renews nothing.
	now = now.Add(4 * time.Minute)
	l = open(t, path, &now)
	defer l.Close()
	if ok, _ := l.Delivered("n1/+4915112345678"); !ok {
		t.Fatal("key forgotten across restart")
	}
	now = now.Add(6 * time.Minute)
	if ok, _ := l.Delivered("n1/+4915112345678"); ok {
		t.Fatal("key still delivered after the window")
	}
}

// TestDeliveredRenewsWhileTheNotificationComesBack: Alertmanager sends a
// notification that failed for someone again at every group_interval, for
// as long as it fails. Each time it comes, a record half the window old
// is renewed, so the recipients it reached are not paged again when the
// retries outlast the window; once it stops coming, the record expires a
// window after the last time.
func TestDeliveredRenewsWhileTheNotificationComesBack(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now) // a 10-minute window
	defer l.Close()
	const key = "n1/+4915112345678"
	if err := l.Record(key); err != nil {
		t.Fatal(err)
	}
	// Retries every 5 minutes, for half an hour: three windows.
	for i := range 6 {
		now = now.Add(5 * time.Minute)
		if ok, err := l.Delivered(key); err != nil || !ok {
			t.Fatalf("retry %d, %v after the record: Delivered = %v, %v; want true", i+1, 5*time.Minute*time.Duration(i+1), ok, err)
		}
	}
	now = now.Add(9 * time.Minute)
	if ok, _ := l.Delivered(key); !ok {
		t.Fatal("record expired before a window had passed since the last retry")
	}
	// That lookup renewed it: a window after it, it is gone.
	now = now.Add(10 * time.Minute)
	if ok, _ := l.Delivered(key); ok {
		t.Fatal("record still there a window after the last lookup")
	}
	// Purge keeps what was renewed and deletes what expired.
	if err := l.Record("n2/+4915112345678"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * time.Minute)
	if ok, _ := l.Delivered("n2/+4915112345678"); !ok {
		t.Fatal("n2 not delivered")
	}
	now = now.Add(6 * time.Minute)
	if _, err := l.Purge(0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Delivered("n2/+4915112345678"); !ok {
		t.Fatal("Purge deleted a record renewed within the window")
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
	n, err := l.Purge(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || l.Len() != 1 { // the deliveries a and b
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
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "locked") || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: err = %v, want a locked-file error naming the path", err)
	}
}

// TestCloseWritesTheFreeList: a ledger closed cleanly leaves its free
// list on disk, so that the next Open reads it instead of every page of
// the file. bbolt, opened without NoFreelistSync, commits at once to
// write a free list that is missing, and only then. A second Close does
// nothing, as bbolt's.
func TestCloseWritesTheFreeList(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	now := time.Now()
	l := open(t, path, &now)
	if l.StoppedUncleanly() {
		t.Error("StoppedUncleanly() = true for a new file")
	}
	for i := range 100 {
		if err := l.Record(fmt.Sprintf("key-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("a second Close = %v, want nil as bbolt's", err)
	}
	checkFreeListOnDisk(t, path)
	// And the list read back is right: a ledger opened on it, written
	// and closed again, passes bbolt's own check of every page.
	l = open(t, path, &now)
	if l.StoppedUncleanly() {
		t.Error("StoppedUncleanly() = true after Close")
	}
	for i := range 100 {
		if err := l.Record(fmt.Sprintf("again-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Purge(0); err != nil {
		t.Fatal(err)
	}
	checkPages(t, l, "after a start on the written free list")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkFreeListOnDisk fails the test unless the closed bbolt file at path
// holds its free list: bbolt, opened without NoFreelistSync, commits at
// once to write one that is missing, which shows as a transaction past
// the one a read-only open finds.
func checkFreeListOnDisk(t *testing.T, path string) {
	t.Helper()
	lastTxID := func(o *bolt.Options) int {
		db, err := bolt.Open(path, 0o600, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		id := 0
		if err := db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	closed := lastTxID(&bolt.Options{ReadOnly: true})
	if opened := lastTxID(&bolt.Options{}); opened != closed {
		t.Errorf("bbolt committed on open (transaction %d, closed at %d): the free list was not on disk", opened, closed)
	}
}

// checkPages runs bbolt's own check of every page of l, and fails the
// test, saying when, where it finds an error.
func checkPages(t *testing.T, l *Ledger, when string) {
	t.Helper()
	if err := l.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("bbolt's check %s: %v", when, err)
	}
}

// TestOpenAfterAnUncleanStopKeepsTheFileUnmapped: after a stop that left
// no free list on disk, Open rebuilds it by reading every page of the
// file; those pages must not stay in the process's resident memory. The
// ledger is then whole, and its next clean start reads the list instead.
func TestOpenAfterAnUncleanStopKeepsTheFileUnmapped(t *testing.T) {
	const smaps = "/proc/self/smaps" // Linux's
	if _, err := os.Stat(smaps); err != nil {
		t.Skipf("resident memory per mapping unknown here: %v", err)
	}
	path := filepath.Join(t.TempDir(), FileName)
	now := time.Now()
	l := open(t, path, &now)
	key := func(i int) []byte { return fmt.Appendf(nil, "notification-%06d-%0100d", i, i) }
	const deliveries = 50_000 // some 8 MB of pages
	if err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDelivered)
		for i := range deliveries {
			if err := b.Put(key(i), encodeTime(now)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The stop: the file closed without the free list that Close writes.
	if err := l.db.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	l = open(t, path, &now)
	if !l.StoppedUncleanly() {
		t.Error("StoppedUncleanly() = false after a stop without Close")
	}
	resident := mappedResident(t, smaps, path)
	if resident > info.Size()/8 {
		t.Errorf("%d kB of the %d kB file resident after Open: the pages read to rebuild the free list stayed mapped", resident>>10, info.Size()>>10)
	}
	for _, i := range []int{0, deliveries - 1} {
		if ok, err := l.Delivered(string(key(i))); !ok || err != nil {
			t.Errorf("Delivered(delivery %d) = %v, %v after the start, want true", i, ok, err)
		}
	}
	checkPages(t, l, "after the start")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkFreeListOnDisk(t, path)
}

// mappedResident is how many bytes of the file at path the process has
// mapped and resident, from Linux's smaps at smapsPath. It fails the test
// when no mapping of the file is found: the ledger keeps its file mapped
// while it is open, so that would be a misread, not nothing resident.
func mappedResident(t *testing.T, smapsPath, path string) int64 {
	t.Helper()
	real, err := filepath.EvalSymlinks(path) // smaps names the file so
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(smapsPath)
	if err != nil {
		t.Fatal(err)
	}
	var kB int64
	found, inFile := false, false
	for line := range strings.Lines(string(data)) {
		if m := smapsMapping.FindStringSubmatch(line); m != nil {
			inFile = strings.TrimSuffix(m[1], " (deleted)") == real
			found = found || inFile
			continue
		}
		if fields := strings.Fields(line); inFile && len(fields) == 3 && fields[0] == "Rss:" {
			n, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", smapsPath, line, err)
			}
			kB += n
		}
	}
	if !found {
		t.Fatalf("%s has no mapping of %s", smapsPath, real)
	}
	return kB << 10
}

// smapsMapping is the first line of a mapping in smaps (address, perms,
// offset, device, inode, then the path, which may hold spaces).
var smapsMapping = regexp.MustCompile(`^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+ +(.*?)\n?$`)

func TestPaged(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	if err := l.MarkPaged("+491", firing("fp1|1", "fp2|1")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		number, alert string
		want          bool
	}{{"+491", "fp1|1", true}, {"+491", "fp2|1", true}, {"+492", "fp1|1", false}, {"+491", "fp1|2", false}} {
		if got, err := l.WasPaged(tc.number, firing(tc.alert)[0]); err != nil || got != tc.want {
			t.Errorf("WasPaged(%s, %s) = %v, %v; want %v", tc.number, tc.alert, got, err, tc.want)
		}
	}
	now = now.Add(time.Hour)
	if got, _ := l.WasPaged("+491", firing("fp1|1")[0]); got {
		t.Error("paged alert remembered past its retention")
	}
}

func TestTakeEnforcesWindowsAndBudget(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path, &now)
	perRecipient := []Window{{Max: 2, Per: 10 * time.Minute}, {Max: 3, Per: time.Hour}}
	budget := Window{Max: 4, Per: 24 * time.Hour}
	take := func(number string, force bool) bool {
		t.Helper()
		_, ok, err := l.Take(number, 0, perRecipient, budget, force)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("+491", false) || !take("+491", false) {
		t.Fatal("first two sends refused")
	}
	if take("+491", false) {
		t.Fatal("third send within 10m allowed")
	}
	now = now.Add(10 * time.Minute)
	if !take("+491", false) {
		t.Fatal("send after the 10m window refused")
	}
	now = now.Add(10 * time.Minute)
	if take("+491", false) {
		t.Fatal("fourth send within the hour allowed")
	}
	if !take("+491", true) {
		t.Fatal("forced send refused")
	}
	// The budget counts all recipients: 4 sends so far, including the forced one.
	if take("+492", false) {
		t.Fatal("send over the budget allowed")
	}

	// Refund gives a failed send back; limits survive a restart.
	at, ok, err := l.Take("+493", 0, nil, Window{}, false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := l.Refund("+493", at); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, path, &now)
	defer l.Close()
	if take("+492", false) {
		t.Fatal("budget forgotten across restart")
	}
	now = now.Add(24 * time.Hour)
	if !take("+492", false) {
		t.Fatal("budget still exhausted a day later")
	}
	n, err := l.Purge(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d sends, want the 3 older than a day", n)
	}
}

func TestSuppressAndDigest(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	if err := l.Suppress("+491", Suppressed{Contact: "alice", Alerts: 3, URL: "http://am-1"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if err := l.Suppress("+491", Suppressed{Contact: "alice", Alerts: 2, URL: "http://am-2"}); err != nil {
		t.Fatal(err)
	}
	pending, err := l.Pending()
	if err != nil {
		t.Fatal(err)
	}
	got := pending["+491"]
	want := Suppressed{Contact: "alice", Alerts: 5, Since: time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC), URL: "http://am-2"}
	if len(pending) != 1 || !got.Since.Equal(want.Since) || got.Alerts != want.Alerts || got.URL != want.URL || got.Contact != want.Contact {
		t.Fatalf("pending = %+v, want %+v", pending, want)
	}
	// One more is suppressed while the digest of five is being sent.
	digest(t, l, "+491", got)
	if err := l.Suppress("+491", Suppressed{Contact: "alice", Alerts: 1, URL: "http://am-2"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Digested("+491"); err != nil {
		t.Fatal(err)
	}
	pending, _ = l.Pending()
	if pending["+491"].Alerts != 1 {
		t.Fatalf("after the digest: pending = %+v, want 1 alert left", pending)
	}
	digest(t, l, "+491", pending["+491"])
	if err := l.Digested("+491"); err != nil {
		t.Fatal(err)
	}
	if pending, _ = l.Pending(); len(pending) != 0 {
		t.Fatalf("pending = %+v, want none", pending)
	}
}

// digest takes the digest of owed to number, as SendDigests does before
// it sends it.
func digest(t *testing.T, l *Ledger, number string, owed Suppressed) {
	t.Helper()
	mark := DigestDoubt{Doubt: Doubt{Number: number, Text: "digest", Since: l.now(), Last: l.now()}, Covered: owed}
	if _, ok, err := l.TakeDigest(number, mark, nil, Window{}); err != nil || !ok {
		t.Fatalf("take the digest to %s: %v, %v", number, ok, err)
	}
}

func TestSuppressCountsFiringResolvedAndNames(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 12, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	for _, h := range []Suppressed{
		{Alerts: 2, Resolved: 1, Names: []string{"HighCPU", "TargetDown"}},
		{Resolved: 2},
		{Alerts: 5, Names: []string{"TargetDown", "A", "B", "C", "D", "E"}},
	} {
		h.Contact, h.URL = "alice", "http://am"
		if err := l.Suppress("+491", h); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := l.Pending()
	got := pending["+491"]
	if got.Alerts != 7 || got.Resolved != 3 || strings.Join(got.Names, ",") != "HighCPU,TargetDown,A,B,C" || got.MoreNames != 2 {
		t.Fatalf("pending = %+v, want 7 firing, 3 resolved, 5 names in order and 2 more", got)
	}
	// Held back while the digest is sent: owed apart, with its name.
	digest(t, l, "+491", got)
	if err := l.Suppress("+491", Suppressed{Contact: "alice", Alerts: 1, Names: []string{"New"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Digested("+491"); err != nil {
		t.Fatal(err)
	}
	pending, _ = l.Pending()
	if left := pending["+491"]; left.Alerts != 1 || left.Resolved != 0 || strings.Join(left.Names, ",") != "New" || left.MoreNames != 0 {
		t.Fatalf("after the digest: %+v, want 1 firing left, named", left)
	}
}

func TestDoubtLifecycle(t *testing.T) {
	const key, number = "n1/+4915112345678", "+4915112345678"
	one := []Window{{Max: 1, Per: time.Hour}}
	tests := []struct {
		name string
		// settle ends the send that TakeDoubt counted at at.
		settle func(l *Ledger, at time.Time) error
		// wantDelivered: the key counts as delivered afterwards;
		// wantCounted: the send still counts against the limit.
		wantDelivered, wantCounted bool
	}{
		{name: "accepted", settle: func(l *Ledger, _ time.Time) error { return l.Record(key) }, wantDelivered: true, wantCounted: true},
		{name: "certainly not sent", settle: func(l *Ledger, at time.Time) error { return l.Unsent(key, number, at) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			path := filepath.Join(t.TempDir(), "ledger.db")
			l := open(t, path, &now)
			mark := Doubt{Number: number, Text: "FIRING 1", Since: now, Last: now}
			at, ok, err := l.TakeDoubt(key, mark, 0, one, Window{}, false, nil)
			if err != nil || !ok {
				t.Fatalf("TakeDoubt = %v, %v", ok, err)
			}
			// A crash now leaves the mark, on disk.
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = open(t, path, &now)
			defer l.Close()
			got, ok, err := l.Doubt(key)
			if err != nil || !ok || got.Number != number || got.Text != "FIRING 1" || !got.Since.Equal(now) || !got.Last.Equal(now) || got.Resends != 0 {
				t.Fatalf("after a restart: Doubt = %+v, %v, %v; want the mark", got, ok, err)
			}
			if err := tt.settle(l, at); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := l.Doubt(key); err != nil || ok {
				t.Errorf("after settling: Doubt = %v, %v; want no mark", ok, err)
			}
			if ok, _ := l.Delivered(key); ok != tt.wantDelivered {
				t.Errorf("Delivered = %v, want %v", ok, tt.wantDelivered)
			}
			_, allowed, err := l.Take(number, 0, one, Window{}, false)
			if err != nil || allowed == tt.wantCounted {
				t.Errorf("next Take allowed = %v, %v; want %v: the send counts = %v", allowed, err, !tt.wantCounted, tt.wantCounted)
			}
		})
	}
}

func TestTakeDoubtMarksOnlyWhatItAllows(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	one := []Window{{Max: 1, Per: time.Hour}}
	mark := Doubt{Number: "+491", Text: "x", Since: now, Last: now}
	if _, ok, err := l.TakeDoubt("a", mark, 0, one, Window{}, false, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err := l.TakeDoubt("b", mark, 0, one, Window{}, false, nil); err != nil || ok {
		t.Fatalf("second send within the limit: allowed %v, %v", ok, err)
	}
	if _, ok, _ := l.Doubt("b"); ok {
		t.Error("a send the limit refused is marked in doubt")
	}
	if _, ok, _ := l.Doubt("a"); !ok {
		t.Error("the allowed send is not marked in doubt")
	}
}

// TestTakeDoubtQueuedDecidesInOrder: a take started once the one before
// it is queued is decided after it, and both share one commit.
func TestTakeDoubtQueuedDecidesInOrder(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	one := []Window{{Max: 1, Per: time.Hour}}
	mark := Doubt{Number: "+491", Text: "x", Since: now, Last: now}

	// A commit under way, so that both takes queue behind it; released
	// also when the test fails, so that Close does not wait for it.
	release, wait := holdCommit(t, l.group, func(*bolt.Tx) error { return nil })
	defer release()
	before := txID(t, l.db)

	type take struct {
		ok  bool
		err error
	}
	first, second := make(chan take, 1), make(chan take, 1)
	go func() {
		_, ok, err := l.TakeDoubt("a", mark, 0, one, Window{}, false, func() {
			go func() {
				_, ok, err := l.TakeDoubt("b", mark, 0, one, Window{}, false, nil)
				second <- take{ok, err}
			}()
		})
		first <- take{ok, err}
	}()
	waitQueued(t, l.group, 2)
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	a, b := <-first, <-second
	if a.err != nil || b.err != nil || !a.ok || b.ok {
		t.Errorf("first take allowed %v (%v), second %v (%v); want the first only: the limit allows one", a.ok, a.err, b.ok, b.err)
	}
	if commits := txID(t, l.db) - before; commits != 2 {
		t.Errorf("%d commits, want 2: the held one, then both takes in one", commits)
	}
}

func TestDoubtResendsAndExpiry(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	first := now
	if _, _, err := l.TakeDoubt("a", Doubt{Number: "+491", Text: "x", Since: first, Last: first}, 0, nil, Window{}, false, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Minute)
	if err := l.MarkDoubt("a", Doubt{Number: "+491", Text: "x", Since: first, Last: now, Resends: 1}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := l.Doubt("a"); !ok || got.Resends != 1 || !got.Last.Equal(now) || !got.Since.Equal(first) {
		t.Fatalf("Doubt = %+v, %v; want the updated mark", got, ok)
	}
	if n, err := l.Purge(24 * time.Hour); err != nil || n != 0 {
		t.Fatalf("Purge within the window = %d, %v; want nothing purged", n, err)
	}
	// Past the dedup window, the mark stays for a late retry to settle.
	now = first.Add(10 * time.Minute)
	if _, ok, _ := l.Doubt("a"); !ok {
		t.Error("mark gone with the dedup window")
	}
	if n, err := l.Purge(24 * time.Hour); err != nil || n != 0 {
		t.Errorf("Purge after the dedup window = %d, %v; want nothing purged", n, err)
	}
	// The paged retention runs from the first send.
	now = first.Add(time.Hour)
	if _, ok, _ := l.Doubt("a"); ok {
		t.Error("mark still returned after the paged retention")
	}
	if n, err := l.Purge(24 * time.Hour); err != nil || n != 1 {
		t.Errorf("Purge = %d, %v; want the expired mark (and no send: kept a day)", n, err)
	}
}

// TestRecordPagedAndRecordSuppressedAreOneWriteEach checks what the result
// of an SMS writes: all of it, in one commit.
func TestRecordPagedAndRecordSuppressedAreOneWriteEach(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"), &now)
	defer l.Close()
	commit := func(write func() error) {
		t.Helper()
		before := txID(t, l.db)
		if err := write(); err != nil {
			t.Fatal(err)
		}
		if n := txID(t, l.db) - before; n != 1 {
			t.Errorf("%d commits, want 1", n)
		}
	}
	mark := Doubt{Number: "+491", Text: "x", Since: now, Last: now}
	if _, ok, err := l.TakeDoubt("n1/+491", mark, 0, nil, Window{}, false, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	commit(func() error { return l.RecordPaged("n1/+491", "+491", firing("fp1|1", "fp2|1")) })
	commit(func() error {
		return l.RecordSuppressed("n2/+492", "+492", Suppressed{Contact: "bob", Alerts: 3, URL: "http://am"})
	})
	commit(func() error {
		return l.RecordSuppressed("n3/+492", "+492", Suppressed{Contact: "bob", Alerts: 2, URL: "http://am"})
	})

	for _, key := range []string{"n1/+491", "n2/+492", "n3/+492"} {
		if ok, err := l.Delivered(key); err != nil || !ok {
			t.Errorf("Delivered(%s) = %v, %v; want true", key, ok, err)
		}
	}
	if _, ok, err := l.Doubt("n1/+491"); err != nil || ok {
		t.Errorf("in-doubt mark of the recorded SMS: %v, %v; want none", ok, err)
	}
	for _, alert := range firing("fp1|1", "fp2|1") {
		if ok, err := l.WasPaged("+491", alert); err != nil || !ok {
			t.Errorf("WasPaged(%s) = %v, %v; want true", alert.ID, ok, err)
		}
	}
	if ok, _ := l.WasPaged("+492", firing("fp1|1")[0]); ok {
		t.Error("a suppressed SMS counts as paged")
	}
	pending, err := l.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if got := pending["+492"]; len(pending) != 1 || got.Alerts != 5 || got.Contact != "bob" || !got.Since.Equal(now) {
		t.Errorf("pending = %+v, want 5 alerts owed to bob since %s", pending, now)
	}
}

// TestDoubtLivesAsLongAsTheDedupWindowIfLonger: a dedup window longer
// than the paged retention keeps in-doubt marks as long, lest a retry it
// still catches find no mark and send again.
func TestDoubtLivesAsLongAsTheDedupWindowIfLonger(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{DedupWindow: 2 * time.Hour, PagedRetention: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, err := l.TakeDoubt("a", Doubt{Number: "+491", Text: "x", Since: now, Last: now}, 0, nil, Window{}, false, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(90 * time.Minute)
	if _, err := l.Purge(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Doubt("a"); !ok {
		t.Error("mark gone before the dedup window ended")
	}
	now = now.Add(30 * time.Minute)
	if n, err := l.Purge(24 * time.Hour); err != nil || n != 1 {
		t.Errorf("Purge after the dedup window = %d, %v; want the mark", n, err)
	}
}
