package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// The SMS that sum up what the ledger holds, the one sent when quiet hours
// end and a digest, are sent from the ledger, not for a notification: no
// retry of a notification comes to settle one whose answer was lost. So
// their in-doubt marks are kept beside what they sum up and as long (not
// for a dedup window, as a notification's), and say exactly what the send
// told of: settling it releases that, and nothing that joined meanwhile.
var (
	// bucketHeldDoubts: number 0 until -> heldDoubt, for the held SMS of
	// number and until whose send began.
	bucketHeldDoubts = []byte("held_in_doubt")
	// bucketDigestDoubts: number -> DigestDoubt.
	bucketDigestDoubts = []byte("digest_in_doubt")
)

var (
	// ErrHeldChanged is TakeHeld's answer, having taken nothing, when what
	// the held SMS tells of changed since DueHeld read it: an alert of it
	// was cancelled or released, or another send of it began. The next
	// DueHeld reads it afresh.
	ErrHeldChanged = errors.New("the held sms changed since it was read")
	// ErrHeldInDoubt says that a resolved alert's held SMS is being
	// sent, or was and its outcome is not settled (see CancelHeld):
	// whether the recipient heard of the alert is not known yet, so
	// neither dropping nor sending its resolved SMS is right. The
	// notification must come again once it is settled.
	ErrHeldInDoubt = errors.New("the held sms of a resolved alert is being sent or of unknown outcome")
	// ErrDigestChanged is TakeDigest's answer, having taken nothing, when
	// what is owed changed since it was read, or a digest to the number is
	// in doubt already. The next check composes it afresh.
	ErrDigestChanged = errors.New("the digest owed changed since it was read, or one is in doubt")
)

// heldDoubt is the in-doubt mark of a held SMS.
type heldDoubt struct {
	Doubt
	// Entries are the held entries the SMS told of, each its status byte
	// and alert id.
	Entries []string `json:"entries"`
}

// DigestDoubt is the in-doubt mark of a digest.
type DigestDoubt struct {
	Doubt
	// Covered is what the digest told of. It is taken off what is owed
	// with the mark, so that what is held back while the digest is out is
	// owed apart, dated and named by itself; DigestUnsent gives it back.
	Covered Suppressed `json:"covered"`
	// Apart says that Covered was taken off what is owed. Marks written
	// before it left it there; Open takes it off.
	Apart bool `json:"apart,omitempty"`
}

func heldDoubtKey(number string, until time.Time) []byte {
	return append([]byte(number+"\x00"), encodeTime(until)...)
}

// heldEntry names a held entry in a mark: its status byte and alert id.
func heldEntry(a HeldAlert) string {
	if a.Resolved {
		return string(rune(heldResolved)) + a.ID
	}
	return string(rune(heldFiring)) + a.ID
}

// TakeHeld is Take for the held SMS h that is about to be sent: when the
// limits allow it, it also marks h in doubt with mark, naming the entries
// it tells of, in the same transaction. It returns ErrHeldChanged, having
// taken nothing, when one of them was cancelled or released since
// DueHeld read h, or a send of h is in doubt. The send's result clears
// the mark: ReleaseHeld when it went out or is given up, HeldUnsent when
// it certainly did not go out.
func (l *Ledger) TakeHeld(h HeldSMS, mark Doubt, rank int, perRecipient []Window, budget Window, force bool) (time.Time, bool, error) {
	entries := make([]string, len(h.Alerts))
	for i, a := range h.Alerts {
		entries[i] = heldEntry(a)
	}
	return l.take(h.Number, rank, perRecipient, budget, force, time.Time{}, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHeld)
		for _, a := range h.Alerts {
			var e HeldAlert
			if v := b.Get(heldKey(h.Number, h.Until, a.Resolved, a.ID)); v == nil || json.Unmarshal(v, &e) != nil || !e.Cancelled.IsZero() {
				return ErrHeldChanged
			}
		}
		// A mark it cannot read is overwritten: DueHeld ignores it too.
		if _, ok := heldInDoubt(tx, h.Number, h.Until); ok {
			return ErrHeldChanged
		}
		return putJSON(tx.Bucket(bucketHeldDoubts), heldDoubtKey(h.Number, h.Until), heldDoubt{Doubt: mark, Entries: entries})
	}, nil)
}

// MarkHeldDoubt replaces the in-doubt mark of h's send with mark, for a
// resend, keeping what it told of.
func (l *Ledger) MarkHeldDoubt(h HeldSMS, mark Doubt) error {
	err := l.write(func(tx *bolt.Tx) error {
		b, k := tx.Bucket(bucketHeldDoubts), heldDoubtKey(h.Number, h.Until)
		var d heldDoubt
		if v := b.Get(k); v == nil || json.Unmarshal(v, &d) != nil {
			return errNoMark
		}
		d.Doubt = mark
		return putJSON(b, k, d)
	})
	if err != nil {
		return fmt.Errorf("ledger mark held sms to %s in doubt: %w", phone.Mask(h.Number), err)
	}
	return nil
}

// HeldUnsent clears the in-doubt mark of h's send and gives the send,
// taken at at, back to the limits, in one transaction: it certainly did
// not go out, and h stays held.
func (l *Ledger) HeldUnsent(h HeldSMS, at time.Time) error {
	err := l.write(func(tx *bolt.Tx) error {
		return unsent(tx, bucketHeldDoubts, heldDoubtKey(h.Number, h.Until), h.Number, at)
	})
	if err != nil {
		return fmt.Errorf("ledger unsent held sms to %s: %w", phone.Mask(h.Number), err)
	}
	return nil
}

// heldInDoubt returns the in-doubt mark of the held SMS of number and
// until, if it has one.
func heldInDoubt(tx *bolt.Tx, number string, until time.Time) (heldDoubt, bool) {
	var d heldDoubt
	v := tx.Bucket(bucketHeldDoubts).Get(heldDoubtKey(number, until))
	return d, v != nil && json.Unmarshal(v, &d) == nil
}

// entrySet is the entries d names, as a set.
func (d heldDoubt) entrySet() map[string]bool {
	set := make(map[string]bool, len(d.Entries))
	for _, e := range d.Entries {
		set[e] = true
	}
	return set
}

// heldMarks reads the in-doubt marks of held SMS in one transaction, each
// once: a storm's hits fall under a few held SMS, whose marks may each
// name thousands of entries.
type heldMarks struct {
	tx *bolt.Tx
	// named is, by heldDoubtKey, the entries a mark names; nil for an SMS
	// without a mark.
	named map[string]map[string]bool
}

func newHeldMarks(tx *bolt.Tx) *heldMarks {
	return &heldMarks{tx: tx, named: map[string]map[string]bool{}}
}

// names reports whether the in-doubt mark of the held SMS of h names h's
// firing entry.
func (m *heldMarks) names(h heldHit) bool {
	k := string(heldDoubtKey(h.number, h.until))
	named, ok := m.named[k]
	if !ok {
		if d, found := heldInDoubt(m.tx, h.number, h.until); found {
			named = d.entrySet()
		}
		m.named[k] = named
	}
	return named[string(rune(heldFiring))+h.alert]
}

// addHeldInDoubt adds to out, for the alerts asked about, the numbers
// whose held SMS telling of them is being sent or of unknown outcome, as
// paged when that send began: they may have heard of them, so another
// SMS must not tell them again as news. Settling the SMS writes real
// paged marks, or takes these back when it certainly did not go out.
func addHeldInDoubt(tx *bolt.Tx, alerts []Firing, out map[string][]PagedRecipient) {
	c := tx.Bucket(bucketHeldDoubts).Cursor()
	k, v := c.First()
	if k == nil {
		return
	}
	asked := make(map[string]bool, len(alerts))
	for _, a := range alerts {
		asked[a.ID] = true
	}
	held := tx.Bucket(bucketHeld)
	added := map[string]bool{}
	for ; k != nil; k, v = c.Next() {
		var d heldDoubt
		if len(k) < 9 || k[len(k)-9] != 0 || json.Unmarshal(v, &d) != nil {
			continue
		}
		number, until := string(k[:len(k)-9]), decodeTime(k[len(k)-8:])
		for _, e := range d.Entries {
			if len(e) < 2 || e[0] != heldFiring || !asked[e[1:]] {
				continue
			}
			id := e[1:]
			if i := slices.IndexFunc(out[id], func(r PagedRecipient) bool { return r.Number == number }); i >= 0 {
				// Told it resolved, and then held as firing again: the
				// held SMS may have told them it fires.
				if r := &out[id][i]; !r.Resolved.IsZero() {
					r.At, r.Resolved = d.Since, time.Time{}
				}
				continue
			}
			var a HeldAlert
			if v := held.Get(heldKey(number, until, false, id)); v != nil && json.Unmarshal(v, &a) != nil {
				a = HeldAlert{}
			}
			out[id] = append(out[id], PagedRecipient{Number: number, Contact: a.Contact, Route: a.Route, At: d.Since})
			added[id] = true
		}
	}
	for id := range added {
		slices.SortFunc(out[id], func(a, b PagedRecipient) int { return strings.Compare(a.Number, b.Number) })
	}
}

// DigestsInDoubt returns the in-doubt marks of digests, by number.
func (l *Ledger) DigestsInDoubt() (map[string]DigestDoubt, error) {
	out := map[string]DigestDoubt{}
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDigestDoubts).ForEach(func(k, v []byte) error {
			var d DigestDoubt
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("digest in doubt: %w", err)
			}
			out[string(k)] = d
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger digests in doubt: %w", err)
	}
	return out, nil
}

// TakeDigest is Take for a digest to number that is about to be sent: when
// the limits allow it, it also moves what it covers, mark.Covered, from
// what is owed into its in-doubt mark, in the same transaction. It returns
// ErrDigestChanged, having taken nothing, when what is owed is no longer
// mark.Covered or a digest to number is in doubt already. The send's
// result clears the mark: Digested when it went out or is given up,
// DigestUnsent when it certainly did not go out.
func (l *Ledger) TakeDigest(number string, mark DigestDoubt, perRecipient []Window, budget Window) (time.Time, bool, error) {
	mark.Apart = true
	return l.take(number, MaxRank, perRecipient, budget, false, time.Time{}, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDigestDoubts)
		if b.Get([]byte(number)) != nil {
			return ErrDigestChanged
		}
		owed := tx.Bucket(bucketSuppressed)
		var s Suppressed
		if v := owed.Get([]byte(number)); v == nil || json.Unmarshal(v, &s) != nil || !s.equal(mark.Covered) {
			return ErrDigestChanged
		}
		if err := owed.Delete([]byte(number)); err != nil {
			return err
		}
		return putJSON(b, []byte(number), mark)
	}, nil)
}

// MarkDigestDoubt replaces the in-doubt mark of the digest to number with
// mark, for a resend, keeping what it covered.
func (l *Ledger) MarkDigestDoubt(number string, mark Doubt) error {
	err := l.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDigestDoubts)
		var d DigestDoubt
		if v := b.Get([]byte(number)); v == nil || json.Unmarshal(v, &d) != nil {
			return errNoMark
		}
		d.Doubt = mark
		return putJSON(b, []byte(number), d)
	})
	if err != nil {
		return fmt.Errorf("ledger mark digest to %s in doubt: %w", phone.Mask(number), err)
	}
	return nil
}

// DigestUnsent clears the in-doubt mark of the digest to number, gives
// its send, taken at at, back to the limits, and what it covered back to
// what is owed, ahead of what was held back since, in one transaction: it
// certainly did not go out.
func (l *Ledger) DigestUnsent(number string, at time.Time) error {
	now := l.now()
	err := l.write(func(tx *bolt.Tx) error {
		var d DigestDoubt
		if v := tx.Bucket(bucketDigestDoubts).Get([]byte(number)); v != nil && json.Unmarshal(v, &d) == nil {
			if err := unsettle(tx, number, d.Covered, now); err != nil {
				return err
			}
		}
		return unsent(tx, bucketDigestDoubts, []byte(number), number, at)
	})
	if err != nil {
		return fmt.Errorf("ledger unsent digest to %s: %w", phone.Mask(number), err)
	}
	return nil
}

// migrateDigestDoubts takes what the digests in doubt of an older version
// covered off what is owed, where that version left it, as TakeDigest
// does now: a name held back again while the digest was out goes with it.
func migrateDigestDoubts(tx *bolt.Tx) error {
	b := tx.Bucket(bucketDigestDoubts)
	var marks [][2][]byte
	if err := b.ForEach(func(k, v []byte) error {
		marks = append(marks, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	for _, kv := range marks {
		var d DigestDoubt
		if json.Unmarshal(kv[1], &d) != nil || d.Apart {
			continue // one it cannot read is purged
		}
		if err := updateSuppressed(tx, string(kv[0]), func(s *Suppressed) bool {
			c := d.Covered
			s.Alerts, s.Resolved = max(s.Alerts-c.Alerts, 0), max(s.Resolved-c.Resolved, 0)
			s.Names = slices.DeleteFunc(s.Names, func(n string) bool { return slices.Contains(c.Names, n) })
			s.MoreNames = max(s.MoreNames-c.MoreNames, 0)
			if s.Alerts == 0 {
				s.Names, s.MoreNames = nil, 0
			}
			return s.Alerts+s.Resolved > 0
		}); err != nil {
			return err
		}
		d.Apart = true
		if err := putJSON(b, kv[0], d); err != nil {
			return err
		}
	}
	return nil
}

// putJSON puts v under k in b, as JSON.
func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// errNoMark: a mark to update is gone (settled by another call, or
// purged).
var errNoMark = errors.New("no in-doubt mark to update")

// purgeSummaryDoubts deletes the in-doubt marks of summaries that the
// ledger no longer holds anything of: a held SMS's once what it held is
// purged (a paged retention after its end), a digest's once its first
// send is that old, and those it cannot read.
func (l *Ledger) purgeSummaryDoubts(tx *bolt.Tx) (int, error) {
	n := 0
	now := l.now()
	c := tx.Bucket(bucketHeldDoubts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var d heldDoubt
		if len(k) >= 9 && k[len(k)-9] == 0 && json.Unmarshal(v, &d) == nil && now.Sub(decodeTime(k[len(k)-8:])) < l.o.PagedRetention {
			continue
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	c = tx.Bucket(bucketDigestDoubts).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var d DigestDoubt
		readable := json.Unmarshal(v, &d) == nil
		if readable && now.Sub(d.Since) < l.o.PagedRetention {
			continue
		}
		if readable && d.Apart {
			// Never settled: what it covered is owed again, not lost.
			if err := unsettle(tx, string(k), d.Covered, now); err != nil {
				return n, err
			}
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// unsettle gives what a digest to number covered back to what is owed,
// ahead of what was held back since, at now.
func unsettle(tx *bolt.Tx, number string, covered Suppressed, now time.Time) error {
	return updateSuppressed(tx, number, func(s *Suppressed) bool {
		c := covered
		if s.Alerts+s.Resolved > 0 {
			c.add(*s, now)
		}
		*s = c
		return s.Alerts+s.Resolved > 0
	})
}

// Outstanding returns, by number, what limits held back that nobody is
// sure was told yet: what is owed (Pending), with what a digest of unknown
// outcome covered. The status page and digests_owed show it, so that a
// digest stuck in doubt through an outage shows as owed.
func (l *Ledger) Outstanding() (map[string]Suppressed, error) {
	var out map[string]Suppressed
	now := l.now()
	err := l.db.View(func(tx *bolt.Tx) (err error) {
		if out, err = owed(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketDigestDoubts).ForEach(func(k, v []byte) error {
			var d DigestDoubt
			if json.Unmarshal(v, &d) != nil || !d.Apart {
				return nil
			}
			c := d.Covered
			if s, ok := out[string(k)]; ok {
				c.add(s, now)
			}
			out[string(k)] = c
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ledger outstanding digests: %w", err)
	}
	return out, nil
}
