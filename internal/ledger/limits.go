package ledger

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Limits are checked against counts kept up to date, never by counting the
// sends in a window. Every send lies in one time-ordered log of all
// recipients (bucket sends_time), appended to at its end. For each window
// length in use there is a window state: a tail time, how many sends of
// the log lie after it, and, for each recipient with such sends, how many
// of those went to them. A check moves the tail on to now-Per and takes
// the sends it passes off the counts, each once (or, should the clock go
// back, moves it back and counts them again); a send adds itself to
// the counts of every state whose tail lies before it, a refund takes
// itself off again. So a check costs the sends that left the window since
// the last one, amortized O(1) per send however many the window holds, and
// what a send writes besides the log's last page are a few counts, in a
// bucket as large as the recipients, not as the sends.
//
// States are kept by window length: the per-recipient windows and the
// budget share one when their lengths agree, a changed Max costs nothing,
// a new length is counted from the log once, when it is first checked,
// and one no longer checked is deleted by Purge once it could count sends
// that Purge deletes.
//
// Ledgers written before window states existed also kept a log per
// recipient (bucket sends); Open deletes it, and their sends are counted
// from the common log like any others.
//
// Urgency: a send has a severity rank, 0 the most severe, and a
// per-recipient window's Max counts, for a send, only the sends to the
// recipient at least as severe as it. So a storm of warnings never holds a
// critical back: it takes the place of the next warning instead, and a
// critical is held back only when Max sends at least as severe went out to
// that person in the window. The log and the counts keep each send under
// its sender, the number with its rank (see sender); a window with R ranks
// in use lets at most R x Max sends through to one person. The budget, the
// cap on cost, counts every send. Sends logged before ranks existed are
// read as the most severe, so they count against every send as before.

// Window is a most number of SMS in a sliding period; Max 0 is no limit.
type Window struct {
	Max int
	Per time.Duration
}

// MaxRank is the least severe rank the limits tell apart; a greater one
// counts as MaxRank. A digest, which tells of what limits held back, takes
// it: it goes out only when the window has room for anything.
const MaxRank = 15

// sender is the identity a send is logged and counted under: the number
// for rank 0 (as sends logged before ranks existed are), else the number
// followed by "~" and the rank as one hex digit. An E.164 number holds no
// "~".
func sender(number string, rank int) string {
	rank = min(max(rank, 0), MaxRank)
	if rank == 0 {
		return number
	}
	return number + "~" + strconv.FormatInt(int64(rank), 16)
}

// parseSender returns the number and rank of a sender.
func parseSender(s string) (number string, rank int) {
	if n := len(s); n >= 2 && s[n-2] == '~' {
		if r, err := strconv.ParseInt(s[n-1:], 16, 0); err == nil {
			return s[:n-2], int(r)
		}
	}
	return s, 0
}

// sendKey is a send's key in the log: its time, then its number.
func sendKey(number string, at time.Time) []byte {
	return append(encodeTime(at), number...)
}

// Keys in bucketWindows. States before ranks existed were kept under
// "w": see migrateWindows.
func windowKey(per time.Duration) []byte {
	return binary.BigEndian.AppendUint64([]byte("r"), uint64(per))
}

// migrateWindows deletes the window states and counts written before
// ranks existed, which lack the counts by rank: they are counted afresh
// from the log when next checked.
func migrateWindows(tx *bolt.Tx) error {
	b := tx.Bucket(bucketWindows)
	if k, _ := b.Cursor().Seek([]byte("w")); k == nil || k[0] != 'w' {
		return nil
	}
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// countKey is where a recipient's count of the windows of length per is
// kept: by number first, so that a send's counts of all lengths share a
// page. A number holds no NUL (it is E.164).
func countKey(per time.Duration, number string) []byte {
	return binary.BigEndian.AppendUint64([]byte("n"+number+"\x00"), uint64(per))
}

// parseCountKey returns the number and length of a key that countKey made.
func parseCountKey(k []byte) (number string, per time.Duration, ok bool) {
	if len(k) < 1+1+8 || k[0] != 'n' || k[len(k)-9] != 0 {
		return "", 0, false
	}
	return string(k[1 : len(k)-9]), time.Duration(binary.BigEndian.Uint64(k[len(k)-8:])), true
}

// window is the state of the windows of length per: total sends in the
// log after tail, and (under countKey) each recipient's share of them.
type window struct {
	per   time.Duration
	tail  time.Time
	total uint64
}

func (w window) encode() []byte {
	return binary.BigEndian.AppendUint64(encodeTime(w.tail), w.total)
}

func decodeWindow(per time.Duration, v []byte) (window, bool) {
	if len(v) != 16 {
		return window{}, false
	}
	return window{per: per, tail: decodeTime(v[:8]), total: binary.BigEndian.Uint64(v[8:])}, true
}

func decodeCount(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// sinceEpoch keeps a window's start from before 1970, where the encoded
// times would no longer sort.
func sinceEpoch(t time.Time) time.Time {
	if t.Before(time.Unix(0, 0)) {
		return time.Unix(0, 0)
	}
	return t
}

// sendsBetween visits the senders of the sends of the log after after and
// up to until (any time, with until zero), oldest first.
func sendsBetween(tx *bolt.Tx, after, until time.Time, visit func(sender string)) {
	c := tx.Bucket(bucketSendsByAge).Cursor()
	end := encodeTime(until)
	for k, _ := c.Seek(encodeTime(after.Add(time.Nanosecond))); k != nil && len(k) >= 8; k, _ = c.Next() {
		if !until.IsZero() && bytes.Compare(k[:8], end) > 0 {
			return
		}
		visit(string(k[8:]))
	}
}

// loadWindow returns the state of the windows of length per at now: its
// tail moved to now-per, so that its counts are the sends within the
// window. A length seen for the first time is counted from the log.
//
// The tail moves back, too, when the clock did (or when a write of a group
// commit read it a little earlier than the one before it): the sends it
// passes count again, so the counts stay exact whatever the clock does.
func loadWindow(tx *bolt.Tx, per time.Duration, now time.Time) (window, error) {
	b := tx.Bucket(bucketWindows)
	since := sinceEpoch(now.Add(-per))
	w, ok := decodeWindow(per, b.Get(windowKey(per)))
	if !ok {
		return recount(tx, per, since)
	}
	if since.Equal(w.tail) {
		return w, nil
	}
	// The sends between the old tail and the new, by recipient: they left
	// the window, or (the tail moving back) came into it again.
	from, to, sign := w.tail, since, -1
	if since.Before(w.tail) {
		from, to, sign = since, w.tail, 1
	}
	moved := map[string]uint64{}
	n := uint64(0)
	sendsBetween(tx, from, to, func(s string) { moved[s]++; n++ })
	if sign < 0 && n > w.total {
		return recount(tx, per, since) // cannot be, unless the log was changed behind our back
	}
	for number, k := range moved {
		key := countKey(per, number)
		c := decodeCount(b.Get(key))
		if sign < 0 && k > c {
			return recount(tx, per, since) // as above
		}
		if sign < 0 {
			c -= k
		} else {
			c += k
		}
		if err := putCount(b, key, c); err != nil {
			return window{}, err
		}
	}
	if sign < 0 {
		w.total -= n
	} else {
		w.total += n
	}
	w.tail = since
	return w, b.Put(windowKey(per), w.encode())
}

// recount counts the windows of length per afresh from the log: the sends
// after since.
func recount(tx *bolt.Tx, per time.Duration, since time.Time) (window, error) {
	b := tx.Bucket(bucketWindows)
	if err := deleteCounts(b, per); err != nil {
		return window{}, err
	}
	w := window{per: per, tail: since}
	counts := map[string]uint64{}
	sendsBetween(tx, since, time.Time{}, func(s string) { counts[s]++; w.total++ })
	for number, c := range counts {
		if err := putCount(b, countKey(per, number), c); err != nil {
			return window{}, err
		}
	}
	return w, b.Put(windowKey(per), w.encode())
}

// putCount writes a recipient's count, or deletes it at 0: only those with
// sends in a window take space.
func putCount(b *bolt.Bucket, key []byte, c uint64) error {
	if c == 0 {
		return b.Delete(key)
	}
	return b.Put(key, binary.BigEndian.AppendUint64(nil, c))
}

// deleteCounts deletes the recipients' counts of the windows of length
// per. It reads every count, of every length: it runs only when a length
// is new, or no longer used.
func deleteCounts(b *bolt.Bucket, per time.Duration) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek([]byte("n")); k != nil && k[0] == 'n'; k, _ = c.Next() {
		if _, p, ok := parseCountKey(k); ok && p == per {
			keys = append(keys, bytes.Clone(k))
		}
	}
	// Deleted after the walk: a bbolt cursor may skip keys when the
	// bucket changes beneath it.
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// windows returns every window state kept.
func windows(tx *bolt.Tx) []window {
	var ws []window
	c := tx.Bucket(bucketWindows).Cursor()
	for k, v := c.Seek([]byte("r")); k != nil && len(k) == 9 && k[0] == 'r'; k, v = c.Next() {
		if w, ok := decodeWindow(time.Duration(binary.BigEndian.Uint64(k[1:])), v); ok {
			ws = append(ws, w)
		}
	}
	return ws
}

// count adds delta to the counts of every window state whose tail lies
// before at, for a send of sender s at at just added to (1) or deleted
// from (-1) the log: its own and the total.
func count(tx *bolt.Tx, s string, at time.Time, delta int) error {
	b := tx.Bucket(bucketWindows)
	for _, w := range windows(tx) {
		if !at.After(w.tail) {
			continue
		}
		key := countKey(w.per, s)
		c := decodeCount(b.Get(key))
		if delta < 0 && (c == 0 || w.total == 0) {
			// Cannot be, unless the log was changed behind our back:
			// forget the state, the next check counts it afresh.
			if err := deleteCounts(b, w.per); err != nil {
				return err
			}
			if err := b.Delete(windowKey(w.per)); err != nil {
				return err
			}
			continue
		}
		w.total = uint64(int64(w.total) + int64(delta))
		if err := putCount(b, key, uint64(int64(c)+int64(delta))); err != nil {
			return err
		}
		if err := b.Put(windowKey(w.per), w.encode()); err != nil {
			return err
		}
	}
	return nil
}

// Take counts an SMS of severity rank (0 the most severe) to number
// against the limits: when every per-recipient window (counting the sends
// to number at least as severe) and the budget (all sends to all
// recipients) allow one more, or force is set, the send is recorded and Take returns true and
// the time to give back with Refund should the send fail. Check and record
// happen in one transaction, so concurrent sends cannot overrun a limit;
// it is synced to disk, shared with concurrent writes, before Take
// returns.
func (l *Ledger) Take(number string, rank int, perRecipient []Window, budget Window, force bool) (at time.Time, ok bool, err error) {
	return l.take(number, rank, perRecipient, budget, force, time.Time{}, nil, nil)
}

// TakeDoubt is Take for the SMS of key that is about to be sent: when the
// limits allow it, it also marks key in doubt with mark, in the same
// transaction, so that a crash during the send leaves a trace without a
// write of its own. The send's result clears the mark: RecordPaged (or
// Record) when sipgate took it, Unsent when it certainly did not go out.
//
// queued, when set, is called as soon as the take is queued for a commit,
// before it is decided: a take queued after it is decided after it, seeing
// what it took, unless this one fails in its group (then it runs again
// alone, after the group, and fails nobody else's write). So the SMS of one
// notification, which take the limits in turn (most severe first), share a
// commit instead of waiting for one each. queued runs on the caller's
// goroutine, possibly before it leads the commit: it must be quick, must
// not use the Ledger and must not panic.
func (l *Ledger) TakeDoubt(key string, mark Doubt, rank int, perRecipient []Window, budget Window, force bool, queued func()) (at time.Time, ok bool, err error) {
	return l.take(mark.Number, rank, perRecipient, budget, force, mark.SendAt, func(tx *bolt.Tx) error {
		return putDoubt(tx, key, mark)
	}, queued)
}

// take is Take, running also, when the send is allowed, in the same
// transaction, and calling queued once it is queued (see TakeDoubt).
//
// A send that sipgate is asked to make later, at sendAt, is logged then,
// when it reaches the phone, and each check counts the sends within a
// window's length of when its own send arrives, before or after it (see
// near): so a send for the morning counts against the sends around the
// morning, not against those of the night, nor they against it. The sends
// that lie ahead are few: only those of quiet hours with defer: send_at,
// which the limits themselves bound.
func (l *Ledger) take(number string, rank int, perRecipient []Window, budget Window, force bool, sendAt time.Time, also func(*bolt.Tx) error, queued func()) (at time.Time, ok bool, err error) {
	// The time is read once: the transaction may run more than once (see
	// groupCommit) and must decide the same way each time.
	now := l.now()
	arrives := now
	if sendAt.After(now) {
		arrives = sendAt
	}
	err = l.group.doQueued(func(tx *bolt.Tx) error {
		at, ok = time.Time{}, false
		if !force {
			allowed, err := allows(tx, number, rank, perRecipient, budget, now, arrives)
			if err != nil || !allowed {
				return err
			}
		}
		var err error
		if at, err = addSend(tx, sender(number, rank), arrives); err != nil {
			return err
		}
		if arrives.After(now) {
			if err := tx.Bucket(bucketScheduled).Put(sendKey(sender(number, rank), at), nil); err != nil {
				return err
			}
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		ok = true
		return nil
	}, queued)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ledger take: %w", err)
	}
	return at, ok, nil
}

// allows reports whether every limit allows one more send of the rank to
// number, arriving at arrives: whether each per-recipient window holds
// fewer than its Max sends to number at least as severe near then, and
// the budget fewer than its Max sends.
func allows(tx *bolt.Tx, number string, rank int, perRecipient []Window, budget Window, now, arrives time.Time) (bool, error) {
	for _, l := range perRecipient {
		if l.Max <= 0 {
			continue
		}
		n, err := near(tx, l.Per, number, rank, now, arrives)
		if err != nil || n >= uint64(l.Max) {
			return false, err
		}
	}
	if budget.Max <= 0 {
		return true, nil
	}
	n, err := near(tx, budget.Per, "", MaxRank, now, arrives)
	return err == nil && n < uint64(budget.Max), err
}

// near counts the sends to number at least as severe as rank (to anyone,
// number empty) less than per before or after arrives, a send's arrival
// at now or later: those of every window of length per that holds it. When
// the earliest such window begins in the future, they are read from the
// log, where only the sends ahead lie; else they are the window state's
// count at now, of the sends after now-per (more, when arrives is later
// than now), less those from arrives+per on, read from the log.
func near(tx *bolt.Tx, per time.Duration, number string, rank int, now, arrives time.Time) (uint64, error) {
	if from := arrives.Add(-per); from.After(now) {
		return countSends(tx, from, arrives.Add(per-time.Nanosecond), number, rank), nil
	}
	w, err := loadWindow(tx, per, now)
	if err != nil {
		return 0, err
	}
	n := w.total
	if number != "" {
		n = atLeastAsSevere(tx, per, number, rank)
	}
	later := scheduledAfter(tx, arrives.Add(per-time.Nanosecond), number, rank)
	if later > n {
		return n, nil // cannot be, unless the log was changed behind our back
	}
	return n - later, nil
}

// scheduledAfter counts the sends scheduled after after, to number at
// least as severe as rank (to anyone, number empty), that the log still
// holds: a version from before the index refunds a send from the log
// alone.
func scheduledAfter(tx *bolt.Tx, after time.Time, number string, rank int) uint64 {
	n := uint64(0)
	var log *bolt.Cursor // made at the first send scheduled: mostly there is none
	c := tx.Bucket(bucketScheduled).Cursor()
	for k, _ := c.Seek(encodeTime(after.Add(time.Nanosecond))); k != nil && len(k) >= 8; k, _ = c.Next() {
		if log == nil {
			log = tx.Bucket(bucketSendsByAge).Cursor()
		}
		if at, _ := log.Seek(k); !bytes.Equal(at, k) {
			continue
		}
		if to, r := parseSender(string(k[8:])); number == "" || to == number && r <= rank {
			n++
		}
	}
	return n
}

// countSends counts the sends of the log after after and up to until (any
// time, with until zero) to number at least as severe as rank (to anyone,
// number empty).
func countSends(tx *bolt.Tx, after, until time.Time, number string, rank int) uint64 {
	n := uint64(0)
	sendsBetween(tx, after, until, func(s string) {
		if to, r := parseSender(s); number == "" || to == number && r <= rank {
			n++
		}
	})
	return n
}

// atLeastAsSevere is how many sends to number of rank or more severe the
// windows of length per hold.
func atLeastAsSevere(tx *bolt.Tx, per time.Duration, number string, rank int) uint64 {
	b := tx.Bucket(bucketWindows)
	n := uint64(0)
	for r := range min(max(rank, 0), MaxRank) + 1 {
		n += decodeCount(b.Get(countKey(per, sender(number, r))))
	}
	return n
}

// addSend records a send of sender s at now, and returns the time it is
// recorded at: one at which the log holds no other send to its number, of
// any rank, so that Refund finds it by number and time.
func addSend(tx *bolt.Tx, s string, now time.Time) (time.Time, error) {
	log := appendOrdered(tx, bucketSendsByAge)
	number, _ := parseSender(s)
	// Nanosecond keys collide only for sends to one number within the
	// same nanosecond; move on until the time is free.
	for logged(log, number, now) != nil {
		now = now.Add(time.Nanosecond)
	}
	if err := log.Put(sendKey(s, now), nil); err != nil {
		return time.Time{}, err
	}
	return now, count(tx, s, now, 1)
}

// logged returns the key of the send to number at at, of whatever rank,
// or nil. Sends at one time lie together in the log, rarely more than one.
func logged(log *bolt.Bucket, number string, at time.Time) []byte {
	prefix := encodeTime(at)
	c := log.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if n, _ := parseSender(string(k[8:])); n == number {
			return bytes.Clone(k)
		}
	}
	return nil
}

// Refund gives back a send that Take counted but that failed.
func (l *Ledger) Refund(number string, at time.Time) error {
	if err := l.write(func(tx *bolt.Tx) error { return refund(tx, number, at) }); err != nil {
		return fmt.Errorf("ledger refund: %w", err)
	}
	return nil
}

// refund deletes the send to number at at, if it is still there: a second
// refund of the same send, or one of a send that Purge deleted, gives
// nothing back.
func refund(tx *bolt.Tx, number string, at time.Time) error {
	log := tx.Bucket(bucketSendsByAge)
	key := logged(log, number, at)
	if key == nil {
		return nil
	}
	if err := log.Delete(key); err != nil {
		return err
	}
	if err := tx.Bucket(bucketScheduled).Delete(key); err != nil {
		return err
	}
	return count(tx, string(key[8:]), at, -1)
}

// purgeArrived deletes from the sends scheduled those that arrived by
// now: near reads only those still ahead. They are copies of the log's,
// so none counts as purged.
func purgeArrived(tx *bolt.Tx, now time.Time) (int, error) {
	end := encodeTime(now)
	c := tx.Bucket(bucketScheduled).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// purgeSends deletes the sends before cutoff, and the window states whose
// tail lies before it, as they may count such sends: a length still in
// use is counted afresh when next checked. It returns how many sends.
func purgeSends(tx *bolt.Tx, cutoff time.Time) (int, error) {
	b := tx.Bucket(bucketWindows)
	for _, w := range windows(tx) {
		if !w.tail.Before(cutoff) {
			continue
		}
		if err := deleteCounts(b, w.per); err != nil {
			return 0, err
		}
		if err := b.Delete(windowKey(w.per)); err != nil {
			return 0, err
		}
	}
	// The log is sorted by time: delete from the start.
	n := 0
	end := encodeTime(cutoff)
	c := tx.Bucket(bucketSendsByAge).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
