// Package ledger is the service's memory across restarts: which recipient
// was already paged for which notification (so a retried or HA-duplicated
// notification pages nobody twice), which SMS may have gone out without us
// knowing (so a crash or a lost answer does not send them again blindly),
// which alerts reached whom, how many SMS each person got lately (so limits
// survive a restart), what a limit suppressed, and what quiet hours hold.
package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

var (
	bucketDelivered = []byte("delivered")
	// bucketPagedSince holds the paged marks: since alert 0 number -> time
	// contact route, so that a resolved alert finds whoever got its firing
	// SMS. The key begins with when the alert began firing, so that the
	// marks of a storm, whose alerts begin about together, are written
	// side by side: keyed by alert alone, each mark of a large group was
	// a B+tree page of its own to rewrite and sync.
	bucketPagedSince = []byte("paged_since")
	bucketSendsByAge = []byte("sends_time") // time number -> nothing
	bucketSuppressed = []byte("suppressed") // number -> Suppressed
	bucketDoubts     = []byte("in_doubt")   // key -> Doubt
	bucketWindows    = []byte("windows")    // counts of sends in limit windows, see limits.go
	// bucketScheduled (time number -> nothing) holds again the sends of the
	// log that sipgate makes later (send_at), until they arrived: so that
	// near tells them from sends the log holds ahead of a clock that went
	// back, which count as they always did.
	bucketScheduled = []byte("sends_scheduled")
	// bucketPagedLast (group hash, alert -> noted since id, the times 8
	// bytes each; see pagedLastKey) holds, per alert of a group, its last
	// firing that an SMS paged someone about, until the group's RESOLVED
	// of that firing or a later one was answered with success (see
	// NoteGroup): an alert that resolved and fired again between two
	// notifications of its group comes back resolved with a start no mark
	// has (see Firing.Alert). Its keys begin with the group, so a storm's
	// are written side by side.
	bucketPagedLast = []byte("paged_last")
	// bucketToldResolved (keyed and valued as bucketPagedSince's marks)
	// holds whom an SMS told that a firing resolved although none paged
	// them about it: a route that sends resolved alerts always, or the
	// RESOLVED of the last paged firing after an unseen refire. The
	// alert's RESOLVED from another group of Alertmanager, which it may be
	// in too, is then no news to them.
	bucketToldResolved = []byte("told_resolved")
	buckets            = [][]byte{bucketDelivered, bucketPagedSince, bucketSendsByAge, bucketSuppressed, bucketDoubts, bucketWindows, bucketRepeats, bucketHeld, bucketHeldBy, bucketHeldDoubts, bucketDigestDoubts, bucketGroupResolved, bucketScheduled, bucketPagedLast, bucketToldResolved}
	// bucketPagedByAlert (alert 0 number -> time contact route) holds the
	// marks of alerts whose start is unknown, and those written before
	// bucketPagedSince existed; lookups fall back to it while it exists,
	// and Purge drops it once empty.
	bucketPagedByAlert = []byte("paged_by_alert")
	// bucketPaged (number 0 alert -> time) held the paged marks the other
	// way round, which bucketPagedByAlert answers as well: a second write
	// for every alert of every SMS. Open indexes an old ledger's, then
	// drops it.
	bucketPaged = []byte("paged")
	// bucketSends (number 0 time -> nothing) was a second log of sends, by
	// recipient; window states took its place.
	bucketSends = []byte("sends")
)

// FileName is the ledger's file in the service's storage directory.
const FileName = "ledger.db"

// Options say how long the ledger remembers what.
type Options struct {
	// DedupWindow is how long a delivery counts as done: a retry or an HA
	// peer's copy of it is not sent again. It runs from the last time the
	// delivery was looked up (see Delivered), so a notification retried
	// for longer keeps it. Repeats have keys of their own (see the pager),
	// so the window need not stay below repeat_interval.
	DedupWindow time.Duration
	// PagedRetention is how long the ledger remembers which alerts reached
	// whom, for sending resolved alerts only to those paged.
	PagedRetention time.Duration
	// Now is the clock the ledger's windows and times follow; nil means
	// time.Now. Tests pass a fake one to move through windows without
	// sleeping.
	Now func() time.Time
	// Committed, when set, is told of each commit: how many writes of
	// callers it held (none for the purge's) and how long it held the
	// ledger's one writer (running the writes, writing the pages, both
	// syncs). Every write waits for the commit under way before its own,
	// so this is where a slow disk shows. It is called by the committing
	// goroutine before the callers it committed for go on: it must be
	// quick, and must not use the Ledger.
	Committed func(writes int, took time.Duration)
}

// Ledger is safe for concurrent use. Every write is synced to disk before
// it returns; concurrent writes share their commits (see groupCommit).
type Ledger struct {
	db  *bolt.DB
	o   Options
	now func() time.Time
	// group commits the writes callers wait for.
	group *groupCommit
	// purge bounds the steps of Purge.
	purge purgeLimits
	// uncleanStop is set when Open found no free list (see
	// StoppedUncleanly).
	uncleanStop bool
}

// Open opens or creates the ledger file at path.
func Open(path string, o Options) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	db, uncleanStop, err := openBolt(path)
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = errors.New("file is locked: is another instance using the same --storage.path?")
		}
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketSends); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
			return err
		}
		if err := migrateWindows(tx); err != nil {
			return err
		}
		if err := migrateDigestDoubts(tx); err != nil {
			return err
		}
		if old := tx.Bucket(bucketPaged); old != nil {
			idx, err := tx.CreateBucketIfNotExists(bucketPagedByAlert)
			if err != nil {
				return err
			}
			if err := indexPaged(idx, old); err != nil {
				return err
			}
			return tx.DeleteBucket(bucketPaged)
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Ledger{db: db, o: o, now: now, group: &groupCommit{db: db, committed: o.Committed}, purge: purgeLimits{scan: purgeScan, batch: purgeBatch}, uncleanStop: uncleanStop}, nil
}

// StoppedUncleanly reports whether Open found the file without the free
// list that Close writes: the process before did not close the ledger (a
// crash, a kill, a power loss) or failed to write the list as it did, and
// Open read every page to rebuild it. Nothing is lost by it, but an
// operator wants to know.
func (l *Ledger) StoppedUncleanly() bool { return l.uncleanStop }

// openBolt opens the bbolt file at path for commits that do not write the
// free list: a sixth less CPU per notification under load. The list is
// then rebuilt after an unclean stop, as etcd does, by reading every page
// of the file through bbolt's map, where those pages stayed resident: a
// ledger of a million sends (50 MB) held 62 MiB of RSS idle where a clean
// start holds 21. Opened first as a database that writes its free list,
// bbolt writes the rebuilt one at once, and the file is opened again on
// it: the map then holds only the pages read since. Another instance
// started at the same moment may take the file's lock in between; this
// one then fails as locked, as it would have had the other come first.
// A clean start reads the list from its pages and opens once. It reports
// whether the list was missing. The timeout, because bbolt otherwise
// waits forever for a file another process holds.
func openBolt(path string) (db *bolt.DB, rebuilt bool, err error) {
	o := &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType}
	if db, err = bolt.Open(path, 0o600, o); err != nil {
		return nil, false, err
	}
	// Open commits only to write a free list that was missing.
	if stats := db.Stats(); stats.TxStats.GetWrite() > 0 {
		rebuilt = true
		if err := db.Close(); err != nil {
			return nil, true, err
		}
		if db, err = bolt.Open(path, 0o600, o); err != nil {
			return nil, true, err
		}
	}
	db.NoFreelistSync = true // nothing else uses db yet
	return db, rebuilt, nil
}

// write runs fn in a write transaction, possibly with other callers'
// writes, and returns once it is on disk. fn may run more than once: it
// must set its results afresh in each run, and take the time from outside.
func (l *Ledger) write(fn func(*bolt.Tx) error) error {
	return l.group.do(fn)
}

// appendFill is how full bbolt leaves a page it splits in the log of
// sends, whose keys begin with the time of the send, so that every put
// lands at its end: with bbolt's default of half, each page the end moves
// past stays half empty for good, and the log took twice the pages (file,
// page cache and resident memory) its entries need. etcd fills its
// sequential keys' pages the same way.
//
// The paged marks of a few alerts keep the default (a storm's: see
// runFill), though their keys begin with a time too: that of the alert's start,
// which reaches the ledger minutes late when the alert joins a group
// (group_interval) or leaves quiet hours, so marks land among the last
// pages. A full page that takes such a mark splits nine to one at this
// fill, and its pieces stay small: with starts up to five minutes old,
// the marks took twice the pages they take at the default.
const appendFill = 0.9

// runFill is how full bbolt leaves the pages of the paged marks and notes
// that the marks of at least minRun alerts write: a storm's marks, which
// begin with about the same start, and its group's notes, which begin with
// the group, are runs of sorted keys that fill pages of their own, which
// at the default split half empty: a 10,000-alert storm wrote twice the
// pages (and their syncs) its marks and notes need. Marks of a few alerts,
// such as one that lands minutes late among full pages, keep the default,
// whose halves take the next late marks; at runFill such a page splits
// nine to one and its pieces stay small (see appendFill).
const (
	runFill = appendFill
	minRun  = 64
)

// writeMarks is write for fn, which marks n alerts paged. With n at least
// minRun, fn commits alone and the pages of the buckets that markPaged
// writes in runs of sorted keys split at runFill: bbolt reads a bucket's
// fill once, as the transaction commits, so in a shared commit the fill
// would reach the late marks of other writes.
func (l *Ledger) writeMarks(n int, fn func(*bolt.Tx) error) error {
	if n < minRun {
		return l.write(fn)
	}
	return l.group.doAlone(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketPagedSince, bucketPagedByAlert, bucketPagedLast, bucketToldResolved} {
			if b := tx.Bucket(name); b != nil {
				b.FillPercent = runFill
			}
		}
		return nil
	})
}

// appendOrdered returns the bucket named name, which tx writes, with its
// pages split as appendFill says. bbolt does not keep a bucket's fill
// between transactions: each that writes the bucket takes it from here.
func appendOrdered(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = appendFill
	return b
}

func encodeTime(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

func decodeTime(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}

// within reports whether the time stored in v lies within d before now.
func (l *Ledger) within(v []byte, d time.Duration) bool {
	at := decodeTime(v)
	return !at.IsZero() && l.now().Sub(at) < d
}

// Delivered reports whether key was recorded within the dedup window, and
// renews the record when it is half the window old: Alertmanager sends a
// notification that failed for one recipient again at every
// group_interval for as long as it fails, and a record that expired
// meanwhile would page the others again (their resolved SMS, which are
// always news). The window is so counted from the last time the
// notification came, not from its first delivery. The copies of an HA
// pair, seconds apart, renew nothing. When only the renewal fails, it
// returns true with the error: the key was delivered all the same.
func (l *Ledger) Delivered(key string) (bool, error) {
	var ok, renew bool
	now := l.now()
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDelivered).Get([]byte(key))
		ok = l.within(v, l.o.DedupWindow)
		renew = ok && now.Sub(decodeTime(v)) >= l.o.DedupWindow/2
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ledger lookup: %w", err)
	}
	if renew {
		at := encodeTime(now)
		if err := l.write(func(tx *bolt.Tx) error { return renewDelivered(tx, key, at) }); err != nil {
			return true, fmt.Errorf("ledger renew delivered: %w", err)
		}
	}
	return ok, nil
}

// renewDelivered moves the record of key to at, if Purge has not deleted
// it meanwhile and nothing recorded it later.
func renewDelivered(tx *bolt.Tx, key string, at []byte) error {
	b := tx.Bucket(bucketDelivered)
	if v := b.Get([]byte(key)); v == nil || bytes.Compare(v, at) >= 0 {
		return nil
	}
	return b.Put([]byte(key), at)
}

// Record notes that key was delivered now, and clears its in-doubt mark in
// the same transaction. It is synced to disk before it returns, so a crash
// right after a send does not forget it.
func (l *Ledger) Record(key string) error {
	now := encodeTime(l.now())
	if err := l.write(func(tx *bolt.Tx) error { return record(tx, key, now) }); err != nil {
		return fmt.Errorf("ledger record: %w", err)
	}
	return nil
}

func record(tx *bolt.Tx, key string, now []byte) error {
	if err := tx.Bucket(bucketDoubts).Delete([]byte(key)); err != nil {
		return err
	}
	return tx.Bucket(bucketDelivered).Put([]byte(key), now)
}

// RecordPaged is RecordPagedTo for a number of no known contact or route.
func (l *Ledger) RecordPaged(key, number string, alerts []Firing) error {
	return l.RecordPagedTo(key, PagedRecipient{Number: number}, alerts)
}

// RecordPagedTo is Record and MarkPagedTo in one transaction: what an SMS
// that reached someone writes, in one disk sync (shared with concurrent
// writes).
func (l *Ledger) RecordPagedTo(key string, to PagedRecipient, alerts []Firing) error {
	now := encodeTime(l.now())
	if err := l.writeMarks(len(alerts), func(tx *bolt.Tx) error {
		if err := record(tx, key, now); err != nil {
			return err
		}
		return markPaged(tx, to, alerts, now)
	}); err != nil {
		return fmt.Errorf("ledger record: %w", err)
	}
	return nil
}

// Firing is one firing of an alert as the paged marks know it.
type Firing struct {
	// ID tells the firing from any other (opaque to the ledger).
	ID string
	// Since is when the alert began firing, zero when unknown: it orders
	// the marks on disk, so that a storm's are written together.
	Since time.Time
	// Resolved is set where an SMS told that the firing ended: its mark,
	// if any, then notes when (PagedRecipient.Resolved) instead of paging
	// anew.
	Resolved bool
	// Alert and Group name the alert across its firings and the group of
	// Alertmanager that sends it, Group as NoteGroup has it (opaque to
	// the ledger; empty: unknown). An alert that resolved and fired again
	// between two notifications of its group is sent neither resolved nor
	// firing anew (Alertmanager compares the alerts' fingerprints, not
	// their starts) until it resolves again, with a start that no mark
	// has: whom its last firing paged in the group is who was not told
	// that it ended. Whom that firing's marks name, and the resolved
	// alert's own do not, count as paged by it, and the SMS that tells
	// them it resolved notes it in those marks (see pagedLast); whom an
	// SMS told of it without any mark are noted in bucketToldResolved. The ids of an alert's firings begin
	// with Alert and a byte that ends it, as the pager's "alert|start".
	Alert, Group string
}

// PagedRecipient is someone a firing SMS reached, as the ledger keeps
// them: a resolved alert goes to whoever got its firing SMS, whatever
// routing says by then.
type PagedRecipient struct {
	Number string
	// Contact names the recipient in logs and metrics; empty when unknown
	// (marks written before contacts were kept).
	Contact string
	// Route is the route whose SMS it was; empty when unknown.
	Route string
	// At is when the ledger noted it; writes ignore it and take the
	// ledger's clock.
	At time.Time
	// Resolved is when an SMS told them, after At, that the alert
	// resolved; zero when none did. The same firing coming again (an
	// alert Alertmanager resolved when its source went quiet, sent again
	// with its old start) may be news to them then (see ResolvedIn).
	Resolved time.Time
}

// pagedBy is the value of a paged mark after its time.
type pagedBy struct {
	Contact  string    `json:"contact,omitempty"`
	Route    string    `json:"route,omitempty"`
	Resolved time.Time `json:"resolved,omitzero"`
}

// appendPagedPrefix appends to dst where the marks of alert a lie: in
// bucketPagedSince by its start and id, or, when its start is unknown,
// in bucketPagedByAlert by id. A mark's key is the prefix and the number.
func appendPagedPrefix(dst []byte, a Firing) []byte {
	if !a.Since.IsZero() {
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.Since.UnixNano()))
	}
	return append(append(dst, a.ID...), 0)
}

// MarkPaged is MarkPagedTo for a number of no known contact or route.
func (l *Ledger) MarkPaged(number string, alerts []Firing) error {
	return l.MarkPagedTo(PagedRecipient{Number: number}, alerts)
}

// MarkPagedTo notes that the firing alerts reached to.
func (l *Ledger) MarkPagedTo(to PagedRecipient, alerts []Firing) error {
	if len(alerts) == 0 {
		return nil
	}
	now := encodeTime(l.now())
	if err := l.writeMarks(len(alerts), func(tx *bolt.Tx) error { return markPaged(tx, to, alerts, now) }); err != nil {
		return fmt.Errorf("ledger mark paged: %w", err)
	}
	return nil
}

// markPaged notes that the alerts reached to at now: a firing one as
// paged, a resolved one as told so.
func markPaged(tx *bolt.Tx, to PagedRecipient, alerts []Firing, now []byte) error {
	if slices.ContainsFunc(alerts, func(a Firing) bool { return a.Resolved }) {
		var firing, resolved []Firing
		for _, a := range alerts {
			if a.Resolved {
				resolved = append(resolved, a)
			} else {
				firing = append(firing, a)
			}
		}
		if err := markResolved(tx, to, resolved, decodeTime(now)); err != nil {
			return err
		}
		alerts = firing
	}
	if len(alerts) == 0 {
		return nil
	}
	by, err := json.Marshal(pagedBy{Contact: to.Contact, Route: to.Route})
	if err != nil {
		return err
	}
	v := append(append([]byte(nil), now...), by...)
	// The marks are put in the order of their keys: bbolt inserts each
	// into a node's sorted list, and a large group's marks, in the order
	// given, would move that list along at every insert.
	var since, byAlert [][]byte
	size := 0
	for _, a := range alerts {
		size += 8 + len(a.ID) + 1 + len(to.Number)
	}
	buf := make([]byte, 0, size) // the keys, in one allocation
	for _, a := range alerts {
		start := len(buf)
		buf = append(appendPagedPrefix(buf, a), to.Number...)
		key := buf[start:len(buf):len(buf)]
		if a.Since.IsZero() {
			byAlert = append(byAlert, key)
		} else {
			since = append(since, key)
		}
	}
	if err := putSorted(tx.Bucket(bucketPagedSince), since, v); err != nil {
		return err
	}
	if len(byAlert) > 0 {
		b, err := tx.CreateBucketIfNotExists(bucketPagedByAlert)
		if err != nil {
			return err
		}
		if err := putSorted(b, byAlert, v); err != nil {
			return err
		}
	}
	if err := notePagedLast(tx.Bucket(bucketPagedLast), alerts, now); err != nil {
		return err
	}
	return supersedeHeld(tx, to.Number, alerts, decodeTime(now))
}

// pagedLastKey is where the last paged firing of alert in its group is
// noted: the group's hash (fnv64a of the group as the caller names it, at
// any length, the same as NoteGroup's) and the alert. Two groups that
// share it share no more than which firing of an alert of the same id in
// both was paged last.
func pagedLastKey(dst []byte, group uint64, alert string) []byte {
	return append(binary.BigEndian.AppendUint64(dst, group), alert...)
}

// fnv64a is the 64-bit FNV-1a hash of s, as hash/fnv makes it, without
// an allocation for each alert of a storm.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// notePagedLast notes each of the firing alerts that an SMS paged someone
// about at now as its group's last firing of it, unless a later one is
// noted already. The same firing paged again renews it, as it renews the
// marks: the purge drops both together.
func notePagedLast(b *bolt.Bucket, alerts []Firing, now []byte) error {
	size := 0
	for _, a := range alerts {
		size += 8 + len(a.Alert) + 16 + len(a.ID)
	}
	// Each entry's key and value side by side in one buffer: the key's
	// capacity ends with its value, which so travels with it through the
	// sort.
	buf := make([]byte, 0, size)
	keys := make([][]byte, 0, len(alerts))
	var group string
	var hash uint64
	for _, a := range alerts {
		if a.Alert == "" || a.Group == "" || a.Since.IsZero() {
			continue
		}
		start := len(buf)
		if a.Group != group { // an SMS's alerts are of one group, as a rule
			group, hash = a.Group, fnv64a(a.Group)
		}
		buf = pagedLastKey(buf, hash, a.Alert)
		end := len(buf)
		buf = append(append(append(buf, now...), encodeTime(a.Since)...), a.ID...)
		keys = append(keys, buf[start:end:len(buf)])
	}
	sortKeys(keys)
	// Which notes a later firing keeps: one walk of a cursor beside the
	// keys, in their order, rather than a search from the root for each
	// (a new group's notes are all past the cursor's first stop). A put
	// moves the cursor, so the puts follow the walk.
	c := b.Cursor()
	var at, cur []byte
	if len(keys) > 0 {
		at, cur = c.Seek(keys[0])
	}
	put := keys[:0]
	for _, k := range keys {
		for steps := 0; at != nil && bytes.Compare(at, k) < 0; steps++ {
			if steps == maxWalk { // far behind: other groups' notes lie between
				at, cur = c.Seek(k)
				break
			}
			at, cur = c.Next()
		}
		v := k[len(k):cap(k)]
		if last := len(put) - 1; last >= 0 && bytes.Equal(put[last], k) {
			// An alert given twice (a hand-made post): the later firing.
			if prev := put[last]; !decodeTime(prev[len(prev)+8 : len(prev)+16]).After(decodeTime(v[8:16])) {
				put[last] = k
			}
			continue
		}
		if bytes.Equal(at, k) && len(cur) >= 16 && decodeTime(cur[8:16]).After(decodeTime(v[8:16])) {
			continue
		}
		put = append(put, k)
	}
	for _, k := range put {
		if err := b.Put(k, k[len(k):cap(k)]); err != nil {
			return err
		}
	}
	return nil
}

// maxWalk is how many entries a walk beside sorted keys steps over before
// it searches for the next key instead.
const maxWalk = 8

// pagedLast returns the last firing of a's alert in its group that an SMS
// paged someone about, when it began before a: the group's RESOLVED of
// it or of a later firing, answered with success, deletes the note (see
// NoteGroup), and whom the group's later firing pages is whom a's
// RESOLVED reaches. b may be nil in a ledger opened read-only before it
// existed.
func pagedLast(b *bolt.Bucket, a Firing) (Firing, bool) {
	if b == nil || a.Alert == "" || a.Group == "" || a.Since.IsZero() {
		return Firing{}, false
	}
	v := b.Get(pagedLastKey(nil, fnv64a(a.Group), a.Alert))
	if len(v) < 16 {
		return Firing{}, false
	}
	last := Firing{ID: string(v[16:]), Since: decodeTime(v[8:16]), Resolved: a.Resolved, Alert: a.Alert, Group: a.Group}
	if !last.Since.Before(a.Since) {
		return Firing{}, false
	}
	return last, true
}

// markResolved notes in to's marks of the firing alerts that an SMS told
// to at at that they resolved. Where no SMS paged them about one, it
// notes that they were told in bucketToldResolved.
func markResolved(tx *bolt.Tx, to PagedRecipient, alerts []Firing, at time.Time) error {
	// The marks of the alerts by start (this layout) and by id alone (the
	// older one, and alerts without a start), each set in key order, and
	// the keys of bucketToldResolved to write.
	var since, byAlert, told [][]byte
	last := tx.Bucket(bucketPagedLast)
	sinceBucket, old := tx.Bucket(bucketPagedSince), tx.Bucket(bucketPagedByAlert)
	for _, a := range alerts {
		if !a.Since.IsZero() && !hasMark(sinceBucket, old, to.Number, a) {
			told = append(told, append(appendPagedPrefix(nil, a), to.Number...))
			// An alert that fired again unseen: the mark of its last
			// paged firing too, which its RESOLVED was sent for.
			f, ok := pagedLast(last, a)
			if !ok {
				continue
			}
			a = f
		}
		byAlert = append(byAlert, append(appendPagedPrefix(nil, Firing{ID: a.ID}), to.Number...))
		if !a.Since.IsZero() {
			since = append(since, append(appendPagedPrefix(nil, a), to.Number...))
		}
	}
	for _, m := range []struct {
		bucket []byte
		keys   [][]byte
	}{{bucketPagedSince, since}, {bucketPagedByAlert, byAlert}} {
		b := tx.Bucket(m.bucket)
		if b == nil || len(m.keys) == 0 {
			continue
		}
		sortKeys(m.keys)
		for _, k := range m.keys {
			v := b.Get(k)
			var by pagedBy
			if len(v) < 8 || json.Unmarshal(v[8:], &by) != nil {
				continue
			}
			by.Resolved = at
			js, err := json.Marshal(by)
			if err != nil {
				return err
			}
			if err := b.Put(k, append(slices.Clip(v[:8]), js...)); err != nil {
				return err
			}
		}
	}
	if len(told) == 0 {
		return nil
	}
	by, err := json.Marshal(pagedBy{Contact: to.Contact, Route: to.Route, Resolved: at})
	if err != nil {
		return err
	}
	return putSorted(tx.Bucket(bucketToldResolved), told, append(encodeTime(at), by...))
}

// hasMark reports whether the firing a has a mark for number, in either
// layout (old is nil when there are no marks by alert alone).
func hasMark(since, old *bolt.Bucket, number string, a Firing) bool {
	if since.Get(append(appendPagedPrefix(nil, a), number...)) != nil {
		return true
	}
	return old != nil && old.Get(append(appendPagedPrefix(nil, Firing{ID: a.ID}), number...)) != nil
}

// putSorted puts v in b under each of keys, which it sorts.
func putSorted(b *bolt.Bucket, keys [][]byte, v []byte) error {
	sortKeys(keys)
	for _, k := range keys {
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// sortKeys sorts keys as bytes.Compare orders them. It compares their
// first 16 bytes as two integers and only keys that share them byte by
// byte: a storm's keys begin with the same start, and a generic sort of
// 10,000 of them cost more than writing them.
func sortKeys(keys [][]byte) {
	type prefixed struct {
		hi, lo uint64 // the first 16 bytes, zero-padded
		k      []byte
	}
	ps := make([]prefixed, len(keys))
	for i, k := range keys {
		var pad [16]byte
		copy(pad[:], k)
		ps[i] = prefixed{binary.BigEndian.Uint64(pad[:8]), binary.BigEndian.Uint64(pad[8:]), k}
	}
	// Zero padding never orders two keys against bytes.Compare: where a
	// shorter key ends, its padding is at most the longer key's byte.
	slices.SortFunc(ps, func(a, b prefixed) int {
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		return bytes.Compare(a.k, b.k)
	})
	for i, p := range ps {
		keys[i] = p.k
	}
}

// indexPaged adds to idx, bucketPagedByAlert, the paged marks by number
// of a ledger written before it existed, with neither contact nor route:
// at the upgrade, and again after a version from before it ran on the
// file. A mark idx holds already stays unless the old one is later.
func indexPaged(idx, old *bolt.Bucket) error {
	return old.ForEach(func(k, v []byte) error {
		number, alert, ok := strings.Cut(string(k), "\x00")
		if !ok || len(v) < 8 {
			return nil
		}
		key := append(appendPagedPrefix(nil, Firing{ID: alert}), number...)
		if cur := idx.Get(key); len(cur) >= 8 && bytes.Compare(cur[:8], v[:8]) >= 0 {
			return nil
		}
		return idx.Put(key, append(append([]byte(nil), v...), "{}"...))
	})
}

// PagedTo returns, for each of the alerts, whom its firing SMS reached
// within the paged retention, ordered by number, by alert id; alerts
// nobody was paged for are left out. Whom a held SMS that is being sent
// or of unknown outcome tells of them counts as reached. It reads in one
// transaction however many alerts.
func (l *Ledger) PagedTo(alerts []Firing) (map[string][]PagedRecipient, error) {
	out := map[string][]PagedRecipient{}
	err := l.db.View(func(tx *bolt.Tx) error {
		m := openPaged(tx)
		for _, a := range alerts {
			if _, done := out[a.ID]; done {
				continue
			}
			to, err := l.pagedTo(m, a)
			if err != nil {
				return err
			}
			// Of a resolved alert, whom an SMS told so without a page,
			// and, if it fired again unseen, whom its last paged firing
			// reached (see Firing.Alert), where no SMS of its own did
			// (another group may have seen it).
			if a.Resolved {
				if to, err = l.andTold(m, a, to); err != nil {
					return err
				}
			}
			if len(to) > 0 {
				out[a.ID] = to
			}
		}
		addHeldInDoubt(tx, alerts, out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger lookup paged: %w", err)
	}
	return out, nil
}

// WasPaged reports whether the alert's firing SMS reached number.
func (l *Ledger) WasPaged(number string, alert Firing) (bool, error) {
	var ok bool
	err := l.db.View(func(tx *bolt.Tx) error {
		to, err := l.pagedTo(openPaged(tx), alert)
		ok = slices.ContainsFunc(to, func(r PagedRecipient) bool { return r.Number == number })
		return err
	})
	if err != nil {
		return false, fmt.Errorf("ledger lookup paged: %w", err)
	}
	return ok, nil
}

// pagedCursors read the paged marks in one transaction; byAlert is nil
// when there are no marks by alert alone.
type pagedCursors struct {
	tx             *bolt.Tx
	since, byAlert *bolt.Cursor
	key            []byte
	// told and last are opened when first needed (see andTold); either
	// may stay nil in a ledger opened read-only before it existed.
	told   *bolt.Cursor
	last   *bolt.Bucket
	opened bool
}

// andTold adds to to, whom the resolved a's firing reached, whom an SMS
// told that it resolved without a page (see bucketToldResolved) and whom
// its group's last paged firing of it reached (see pagedLast), where to
// does not hold them, ordered by number.
func (l *Ledger) andTold(m *pagedCursors, a Firing, to []PagedRecipient) ([]PagedRecipient, error) {
	if !m.opened {
		m.opened = true
		if b := m.tx.Bucket(bucketToldResolved); b != nil {
			m.told = b.Cursor()
		}
		m.last = m.tx.Bucket(bucketPagedLast)
	}
	var more []PagedRecipient
	if !a.Since.IsZero() {
		m.key = appendPagedPrefix(m.key[:0], a)
		told, err := l.pagedIn(m.told, m.key)
		if err != nil {
			return to, err
		}
		more = told
	}
	if last, ok := pagedLast(m.last, a); ok {
		before, err := l.pagedTo(m, last)
		if err != nil {
			return to, err
		}
		more = append(more, before...)
	}
	if len(more) == 0 {
		return to, nil
	}
	for _, r := range more {
		if !slices.ContainsFunc(to, func(t PagedRecipient) bool { return t.Number == r.Number }) {
			to = append(to, r)
		}
	}
	slices.SortFunc(to, func(a, b PagedRecipient) int { return strings.Compare(a.Number, b.Number) })
	return to, nil
}

func openPaged(tx *bolt.Tx) *pagedCursors {
	m := &pagedCursors{tx: tx, since: tx.Bucket(bucketPagedSince).Cursor()}
	if b := tx.Bucket(bucketPagedByAlert); b != nil {
		m.byAlert = b.Cursor()
	}
	return m
}

// pagedTo returns whom the firing a reached within the paged retention,
// ordered by number. It looks among the marks by alert alone too while
// there are any: an older version kept them all that way, and someone it
// paged may have been paged again since, under the new key.
func (l *Ledger) pagedTo(m *pagedCursors, a Firing) ([]PagedRecipient, error) {
	m.key = appendPagedPrefix(m.key[:0], a)
	c := m.since
	if a.Since.IsZero() {
		c = m.byAlert
	}
	to, err := l.pagedIn(c, m.key)
	if err != nil || a.Since.IsZero() || m.byAlert == nil {
		return to, err
	}
	m.key = appendPagedPrefix(m.key[:0], Firing{ID: a.ID})
	old, err := l.pagedIn(m.byAlert, m.key)
	if err != nil || len(old) == 0 {
		return to, err
	}
	// Of a number in both, the later mark.
	to = append(old, to...)
	slices.SortStableFunc(to, func(a, b PagedRecipient) int {
		return cmp.Or(strings.Compare(a.Number, b.Number), b.At.Compare(a.At))
	})
	return slices.CompactFunc(to, func(a, b PagedRecipient) bool { return a.Number == b.Number }), nil
}

// pagedIn returns the recipients of the marks that c (nil: none) reads
// whose keys are prefix and a number, within the paged retention.
func (l *Ledger) pagedIn(c *bolt.Cursor, prefix []byte) ([]PagedRecipient, error) {
	if c == nil {
		return nil, nil
	}
	var to []PagedRecipient
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		// An alert id may hold a NUL (hand-made labels), a number
		// never: the number follows the last one.
		cut := bytes.LastIndexByte(k, 0)
		if cut != len(prefix)-1 || len(v) < 8 || !l.within(v[:8], l.o.PagedRetention) {
			continue
		}
		var by pagedBy
		if err := json.Unmarshal(v[8:], &by); err != nil {
			return nil, fmt.Errorf("paged entry: %w", err)
		}
		to = append(to, PagedRecipient{Number: string(k[cut+1:]), Contact: by.Contact, Route: by.Route, At: decodeTime(v[:8]), Resolved: by.Resolved})
	}
	return to, nil
}

// Doubt marks an SMS that may have gone out although nobody knows: its
// send began, and then either the answer was lost (a timeout, a reset
// connection) or the process died. Until it is settled (found in sipgate's
// history, sent again, or given up), the SMS must not simply be sent
// again, nor its send given back to the limits.
type Doubt struct {
	Number string `json:"number"`
	Text   string `json:"text"`
	// Since is when the first send began: the history is searched from
	// then.
	Since time.Time `json:"since"`
	// Last is when the latest send began, or ended without an answer: the
	// grace period before the history is asked runs from then.
	Last time.Time `json:"last"`
	// Resends counts the sends after the first that may have gone out.
	Resends int `json:"resends"`
	// SendAt, when after the take, is when sipgate is asked to send it:
	// the limits count it then, when it reaches the phone (see take).
	SendAt time.Time `json:"send_at,omitzero"`
}

// MarkDoubt writes key's in-doubt mark, replacing any.
func (l *Ledger) MarkDoubt(key string, mark Doubt) error {
	if err := l.write(func(tx *bolt.Tx) error { return putDoubt(tx, key, mark) }); err != nil {
		return fmt.Errorf("ledger mark in doubt: %w", err)
	}
	return nil
}

func putDoubt(tx *bolt.Tx, key string, mark Doubt) error {
	v, err := json.Marshal(mark)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketDoubts).Put([]byte(key), v)
}

// doubtLife is how long a notification's in-doubt mark lives, from its
// first send: see Doubt.
func (l *Ledger) doubtLife() time.Duration {
	return max(l.o.PagedRetention, l.o.DedupWindow)
}

// Doubt returns key's in-doubt mark, if it has one whose first send lies
// within the paged retention (or the dedup window, if longer). Not the dedup window: Alertmanager sends a
// notification that was not answered again at every group_interval, also
// after the service was down for longer than the window, and its retry
// must settle the mark from sipgate's history, not send again blindly.
func (l *Ledger) Doubt(key string) (mark Doubt, ok bool, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDoubts).Get([]byte(key))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &mark); err != nil {
			return fmt.Errorf("in-doubt entry: %w", err)
		}
		ok = l.now().Sub(mark.Since) < l.doubtLife()
		return nil
	})
	if err != nil {
		return Doubt{}, false, fmt.Errorf("ledger lookup in doubt: %w", err)
	}
	return mark, ok, nil
}

// Unsent clears key's in-doubt mark and gives its send, taken at at, back
// to number's limits, in one transaction: the SMS certainly did not go out.
func (l *Ledger) Unsent(key, number string, at time.Time) error {
	if err := l.write(func(tx *bolt.Tx) error { return unsent(tx, bucketDoubts, []byte(key), number, at) }); err != nil {
		return fmt.Errorf("ledger unsent: %w", err)
	}
	return nil
}

// unsent deletes the in-doubt mark under key in the bucket named marks,
// and refunds the send to number taken at at: what every kind of SMS
// writes when its send certainly did not go out.
func unsent(tx *bolt.Tx, marks, key []byte, number string, at time.Time) error {
	if err := tx.Bucket(marks).Delete(key); err != nil {
		return err
	}
	return refund(tx, number, at)
}

// Suppressed is what limits kept from one recipient since the last digest.
// Passed to Suppress, it is what one held-back SMS told of (Since aside).
type Suppressed struct {
	Contact string `json:"contact"`
	// Alerts counts the firing alerts held back. Entries written before
	// Resolved existed counted resolved ones here too; they are read as
	// firing, the safe side.
	Alerts int `json:"alerts"`
	// Resolved counts the resolved alerts held back.
	Resolved int `json:"resolved,omitempty"`
	// Names are the distinct alertnames of the firing alerts held back, in
	// the order first held back, at most MaxNames of them.
	Names []string `json:"names,omitempty"`
	// MoreNames counts the further distinct alertnames beyond MaxNames, as
	// far as the ledger can tell: a name beyond MaxNames that comes again
	// is counted again.
	MoreNames int       `json:"more_names,omitempty"`
	Since     time.Time `json:"since"`
	// URL is where to look: the Alertmanager of the latest suppressed SMS.
	URL string `json:"url"`
	// NotBefore, when set, is when the digest may go: what was held back
	// were SMS that sipgate was to send then, at the end of quiet hours
	// (defer: send_at), and a digest of them must not come earlier. Any
	// other SMS held back clears it: that one's digest is due at once.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// MaxNames bounds the alertnames a digest entry keeps: a digest has room
// for a few, and a storm of distinct names must not grow the entry.
const MaxNames = 5

// add counts what one held-back SMS told of, or what was owed since a
// later time than s, at now.
func (s *Suppressed) add(h Suppressed, now time.Time) {
	switch {
	case s.Alerts+s.Resolved == 0:
		s.Since, s.NotBefore = now, h.NotBefore
	case h.NotBefore.IsZero() || !s.NotBefore.After(now):
		s.NotBefore = time.Time{} // something due at once joins, or it is due already
	case h.NotBefore.After(s.NotBefore):
		s.NotBefore = h.NotBefore
	}
	s.Contact, s.URL = h.Contact, h.URL
	s.Alerts += h.Alerts
	s.Resolved += h.Resolved
	s.MoreNames += h.MoreNames
	for _, name := range h.Names {
		switch {
		case name == "" || slices.Contains(s.Names, name):
		case len(s.Names) < MaxNames:
			s.Names = append(s.Names, name)
		default:
			s.MoreNames++
		}
	}
}

// equal says whether s and o tell of the same.
func (s Suppressed) equal(o Suppressed) bool {
	return s.Contact == o.Contact && s.Alerts == o.Alerts && s.Resolved == o.Resolved &&
		slices.Equal(s.Names, o.Names) && s.MoreNames == o.MoreNames && s.Since.Equal(o.Since) && s.URL == o.URL &&
		s.NotBefore.Equal(o.NotBefore)
}

// Suppress adds what a limit kept from number to its digest: held.Alerts
// firing and held.Resolved resolved alerts, with the firing ones' names.
func (l *Ledger) Suppress(number string, held Suppressed) error {
	now := l.now()
	if err := l.write(func(tx *bolt.Tx) error {
		return suppress(tx, number, held, now)
	}); err != nil {
		return fmt.Errorf("ledger update digest of %s: %w", phone.Mask(number), err)
	}
	return nil
}

// RecordSuppressed is Suppress and Record in one transaction: what an SMS
// that a limit kept from number writes, so that a retry of its
// notification neither counts it twice nor forgets it.
func (l *Ledger) RecordSuppressed(key, number string, held Suppressed) error {
	now := l.now()
	if err := l.write(func(tx *bolt.Tx) error {
		if err := suppress(tx, number, held, now); err != nil {
			return err
		}
		return record(tx, key, encodeTime(now))
	}); err != nil {
		return fmt.Errorf("ledger record suppressed sms to %s: %w", phone.Mask(number), err)
	}
	return nil
}

func suppress(tx *bolt.Tx, number string, held Suppressed, now time.Time) error {
	return updateSuppressed(tx, number, func(s *Suppressed) bool {
		s.add(held, now)
		return true
	})
}

// Pending returns the digests owed, by number.
func (l *Ledger) Pending() (map[string]Suppressed, error) {
	var out map[string]Suppressed
	err := l.db.View(func(tx *bolt.Tx) (err error) {
		out, err = owed(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger pending digests: %w", err)
	}
	return out, nil
}

// owed reads the digests owed, by number.
func owed(tx *bolt.Tx) (map[string]Suppressed, error) {
	out := map[string]Suppressed{}
	return out, tx.Bucket(bucketSuppressed).ForEach(func(k, v []byte) error {
		var s Suppressed
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("suppressed entry: %w", err)
		}
		out[string(k)] = s
		return nil
	})
}

// Owed returns the digest owed to number, if any: read again right before
// its digest is taken, so that what a storm holds back meanwhile for one
// number does not keep changing it under a call that sends many.
func (l *Ledger) Owed(number string) (s Suppressed, ok bool, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSuppressed).Get([]byte(number))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &s)
	})
	if err != nil {
		return Suppressed{}, false, fmt.Errorf("ledger digest owed to %s: %w", phone.Mask(number), err)
	}
	return s, ok, nil
}

// Digested clears the in-doubt mark of the digest to number, which went
// out or is given up: what it covered was taken off what is owed when it
// was taken (TakeDigest).
func (l *Ledger) Digested(number string) error {
	if err := l.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDigestDoubts).Delete([]byte(number))
	}); err != nil {
		return fmt.Errorf("ledger update digest of %s: %w", phone.Mask(number), err)
	}
	return nil
}

// updateSuppressed changes the digest owed to number; change returns false
// to delete it.
func updateSuppressed(tx *bolt.Tx, number string, change func(*Suppressed) (keep bool)) error {
	b := tx.Bucket(bucketSuppressed)
	var s Suppressed
	if v := b.Get([]byte(number)); v != nil {
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
	}
	if !change(&s) {
		return b.Delete([]byte(number))
	}
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.Put([]byte(number), v)
}

// Purge deletes what is past its retention (in-doubt marks with
// deliveries), sends older than keepSends (at least the longest limit
// window) with the window states of lengths no longer checked, and returns
// how many entries (window states not counted).
//
// The buckets that grow with the SMS and alerts (deliveries, paged marks,
// repeats) are read in read transactions, which hold up no write: one
// write transaction that scanned them held up every notification's
// writes, for 105-112 ms with 500,000 deliveries and as many paged marks
// (BenchmarkPurge). Each read transaction reads a bounded stretch of each
// bucket (a long one would keep bbolt from reusing the pages freed
// meanwhile, and hold up a remap), and write transactions delete what
// expired, a bounded number of entries each.
func (l *Ledger) Purge(keepSends time.Duration) (int, error) {
	cutoff := l.now().Add(-keepSends)
	grown, err := l.purgeGrown()
	if err != nil {
		return grown, fmt.Errorf("ledger purge: %w", err)
	}
	small, err := l.purgeSmall(cutoff)
	if err != nil {
		return grown, fmt.Errorf("ledger purge: %w", err)
	}
	return grown + small, nil
}

// purgeSmall purges, in one write transaction, the sends before cutoff
// (the oldest first, in time order) and the buckets that stay small:
// the sends scheduled, what quiet hours hold and the in-doubt marks of
// summaries; and drops the bucket of marks
// by alert alone once purgeGrown emptied it, or a migration left it empty.
func (l *Ledger) purgeSmall(cutoff time.Time) (int, error) {
	n := 0
	err := l.group.update(func(tx *bolt.Tx) error {
		n = 0
		for _, purge := range []func(*bolt.Tx) (int, error){
			func(tx *bolt.Tx) (int, error) { return purgeSends(tx, cutoff) },
			func(tx *bolt.Tx) (int, error) { return purgeArrived(tx, l.now()) },
			l.purgeHeld,
			l.purgeSummaryDoubts,
		} {
			deleted, err := purge(tx)
			n += deleted
			if err != nil {
				return err
			}
		}
		return dropIfEmpty(tx, bucketPagedByAlert)
	}, 0)
	return n, err
}

// purgeGrown purges the buckets that grow with the SMS and alerts:
// it finds what expired in read transactions and deletes it in write
// transactions, in the steps that l.purge bounds.
func (l *Ledger) purgeGrown() (int, error) {
	n := 0
	expired := l.expiring()
	for more := true; more; {
		if err := l.findExpired(expired); err != nil {
			return n, err
		}
		more = slices.ContainsFunc(expired, func(e expiredKeys) bool { return !e.done })
		if !slices.ContainsFunc(expired, func(e expiredKeys) bool { return len(e.keys) > 0 }) {
			continue
		}
		deleted, err := l.deleteExpired(expired)
		if err != nil {
			return n, err
		}
		n += deleted
	}
	return n, nil
}

// findExpired reads the next step of each bucket, in one read transaction.
func (l *Ledger) findExpired(expired []expiredKeys) error {
	return l.db.View(func(tx *bolt.Tx) error {
		for i := range expired {
			expired[i].find(tx, l.purge)
		}
		return nil
	})
}

// deleteExpired deletes what the last step found, in one write
// transaction, and returns how many entries it deleted.
func (l *Ledger) deleteExpired(expired []expiredKeys) (int, error) {
	deleted := 0
	err := l.group.update(func(tx *bolt.Tx) error {
		deleted = 0
		for _, e := range expired {
			d, err := e.delete(tx)
			deleted += d
			if err != nil {
				return err
			}
		}
		return nil
	}, 0)
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// purgeLimits bound a step of Purge in a growing bucket: how many
// entries a read transaction reads (its time), and how many expired ones
// it finds for the write transaction to delete (that one's time, and the
// keys held in memory).
type purgeLimits struct {
	scan, batch int
}

// A step of Purge reads 25,000 entries of a bucket (some 5 ms) and
// deletes at most 10,000.
const (
	purgeScan  = 25_000
	purgeBatch = 10_000
)

// expiredKeys finds and deletes the keys of a bucket whose values keep no
// longer accepts, a step at a time.
type expiredKeys struct {
	bucket []byte
	keep   func(v []byte) bool
	// keys are the expired ones the last step found; after is the last
	// key it read, after which the next step goes on, until done.
	keys  [][]byte
	after []byte
	done  bool
}

// expiring are the buckets that grow with the SMS and alerts: deliveries,
// paged marks, repeats and in-doubt marks, with what keeps their entries.
func (l *Ledger) expiring() []expiredKeys {
	within := func(d time.Duration) func([]byte) bool {
		return func(v []byte) bool { return len(v) >= 8 && l.within(v[:8], d) }
	}
	return []expiredKeys{
		{bucket: bucketDelivered, keep: within(l.o.DedupWindow)},
		{bucket: bucketPagedSince, keep: within(l.o.PagedRetention)},
		{bucket: bucketPagedByAlert, keep: within(l.o.PagedRetention)},
		{bucket: bucketRepeats, keep: within(l.o.PagedRetention)},
		{bucket: bucketGroupResolved, keep: within(l.o.PagedRetention)},
		{bucket: bucketPagedLast, keep: within(l.o.PagedRetention)},
		{bucket: bucketToldResolved, keep: within(l.o.PagedRetention)},
		// In-doubt marks live long enough for a late retry (see Doubt),
		// so those whose notification never comes again pile up.
		{bucket: bucketDoubts, keep: func(v []byte) bool {
			var mark Doubt
			return json.Unmarshal(v, &mark) == nil && l.now().Sub(mark.Since) < l.doubtLife()
		}},
	}
}

// find reads the next step of the bucket: up to limits.scan entries, of
// which it keeps up to limits.batch expired keys; nothing once done.
func (e *expiredKeys) find(tx *bolt.Tx, limits purgeLimits) {
	e.keys = e.keys[:0]
	b := tx.Bucket(e.bucket)
	if e.done || b == nil {
		e.done = true
		return
	}
	c := b.Cursor()
	k, v := c.First()
	if e.after != nil {
		if k, v = c.Seek(e.after); bytes.Equal(k, e.after) {
			k, v = c.Next()
		}
	}
	for read := 1; k != nil; k, v = c.Next() {
		if !e.keep(v) {
			e.keys = append(e.keys, bytes.Clone(k))
		}
		if read == limits.scan || len(e.keys) == limits.batch {
			e.after = bytes.Clone(k)
			return
		}
		read++
	}
	e.done = true
}

// dropIfEmpty deletes the bucket name if it exists and holds nothing.
func dropIfEmpty(tx *bolt.Tx, name []byte) error {
	if b := tx.Bucket(name); b != nil {
		if k, _ := b.Cursor().First(); k == nil {
			return tx.DeleteBucket(name)
		}
	}
	return nil
}

// delete deletes the keys found whose values keep still does not accept:
// a write since they were read may have renewed them.
func (e expiredKeys) delete(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(e.bucket)
	if b == nil {
		return 0, nil
	}
	n := 0
	for _, k := range e.keys {
		if v := b.Get(k); v == nil || e.keep(v) {
			continue
		}
		if err := b.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Len returns the number of delivery entries, expired ones not yet purged
// included.
func (l *Ledger) Len() int {
	n := 0
	// A failed read transaction of an open database only happens when it
	// was closed; reporting 0 then is right.
	_ = l.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketDelivered).Stats().KeyN
		return nil
	})
	return n
}

// Close flushes and closes the file. It writes the free list first, in a
// commit of its own: the commits do not write it (see openBolt), so
// without it the next Open rebuilds it by reading every page of the file
// (a ledger of a million sends is 50 MB). Read back instead, it costs the
// next start a few pages; its first commit drops it again.
func (l *Ledger) Close() error {
	// Set inside the commit, under bbolt's one writer: only commits read it.
	ferr := l.write(func(*bolt.Tx) error {
		l.db.NoFreelistSync = false
		return nil
	})
	switch {
	case errors.Is(ferr, bolterrors.ErrDatabaseNotOpen):
		ferr = nil // closed before, as bbolt's Close allows
	case ferr != nil:
		ferr = fmt.Errorf("close ledger: write the free list: %w", ferr)
	}
	if err := l.db.Close(); err != nil {
		return errors.Join(ferr, fmt.Errorf("close ledger: %w", err))
	}
	return ferr
}
