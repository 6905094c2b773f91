package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// What quiet hours hold: one entry per alert, recipient and end of the
// quiet hours, so that a resolved alert cancels only itself and a storm
// held overnight costs one small write per alert, not a rewrite of a
// growing list.
var (
	// bucketHeld: number 0 until status alert -> HeldAlert (JSON), where
	// until is 8 bytes and status one, 'f' (firing) or 'r' (resolved).
	// The entries of one number and until are one SMS when it comes.
	bucketHeld = []byte("held")
	// bucketHeldBy indexes the firing entries by alert: alert 0 number 0
	// until -> nothing, so that a resolved alert finds whoever its
	// firing SMS is held for.
	bucketHeldBy = []byte("held_by_alert")
)

const (
	heldFiring   = 'f'
	heldResolved = 'r'
)

// HeldAlert is one alert of an SMS that quiet hours hold for a recipient:
// what the SMS sent at their end says of it, and what the ledger notes
// once it went out.
type HeldAlert struct {
	// ID is the alert's id, as paged marks have it.
	ID string `json:"-"`
	// Since is when the alert began firing, for its paged mark; zero in
	// entries held before it was kept.
	Since time.Time `json:"since,omitzero"`
	// Name is the alertname, for the SMS.
	Name string `json:"name,omitempty"`
	// Resolved is set for a resolved alert whose firing SMS reached the
	// recipient: the SMS counts it apart.
	Resolved bool `json:"-"`
	// Alert and Group name the alert across its firings, for its paged
	// mark (see Firing.Alert); empty in entries held before they were kept.
	Alert string `json:"alert,omitempty"`
	Group string `json:"group,omitempty"`
	// LastID and LastSince are, of a resolved alert, its group's last
	// paged firing of it when Hold took it and it began earlier (an
	// unseen refire's, see pagedLast): the group's RESOLVED, answered,
	// forgets that note long before the held SMS goes out, and the SMS
	// then notes that firing's mark as told by them.
	LastID    string    `json:"last_id,omitempty"`
	LastSince time.Time `json:"last_since,omitzero"`
	// Contact and Route are whom and by which route it was held, for the
	// logs and the paged marks.
	Contact string `json:"contact,omitempty"`
	Route   string `json:"route,omitempty"`
	// Rank is the alert's severity rank, 0 most severe: the SMS counts
	// against the limits as its most severe alert.
	Rank         int  `json:"rank"`
	BypassLimits bool `json:"bypass_limits,omitempty"`
	// URL is the Alertmanager that sent it, for the SMS.
	URL string `json:"url,omitempty"`
	// At is when it was held first; Hold ignores it and takes the
	// ledger's clock.
	At time.Time `json:"at"`
	// Cancelled is when a resolved notification cancelled its firing SMS,
	// or another SMS told the recipient of the alert first (see
	// supersedeHeld): the held SMS then never tells of it. Zero while it
	// waits.
	Cancelled time.Time `json:"cancelled,omitzero"`
}

// HeldSMS is what quiet hours hold for one recipient until one instant:
// one SMS once it has passed.
type HeldSMS struct {
	Number string
	Until  time.Time
	// Alerts are those not cancelled: the firing ones, then the resolved
	// ones, each ordered by alert id.
	Alerts []HeldAlert
	// Doubt is set when a send of the SMS began and its outcome is not
	// settled: Alerts are then what that send told of, and alerts held
	// since wait for the next SMS.
	Doubt *Doubt
}

func heldKey(number string, until time.Time, resolved bool, alert string) []byte {
	status := byte(heldFiring)
	if resolved {
		status = heldResolved
	}
	k := append([]byte(number+"\x00"), encodeTime(until)...)
	return append(append(k, status), alert...)
}

// parseHeldKey undoes heldKey; ok is false for a key it did not make.
func parseHeldKey(k []byte) (number string, until time.Time, resolved bool, alert string, ok bool) {
	cut := bytes.IndexByte(k, 0)
	if cut < 0 || len(k) < cut+10 {
		return "", time.Time{}, false, "", false
	}
	rest := k[cut+1:]
	return string(k[:cut]), decodeTime(rest[:8]), rest[8] == heldResolved, string(rest[9:]), true
}

func heldByKey(alert, number string, until time.Time) []byte {
	return append([]byte(alert+"\x00"+number+"\x00"), encodeTime(until)...)
}

// Hold keeps the alerts of an SMS to number until the instant until,
// when quiet hours end. An alert held there already keeps its first
// time, and one cancelled stays cancelled: a retry of the notification,
// or an HA peer's copy, holds nothing twice.
func (l *Ledger) Hold(number string, until time.Time, alerts []HeldAlert) error {
	now := l.now()
	err := l.write(func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bucketHeld), tx.Bucket(bucketHeldBy)
		last := tx.Bucket(bucketPagedLast)
		for _, a := range alerts {
			k := heldKey(number, until, a.Resolved, a.ID)
			if b.Get(k) != nil {
				continue
			}
			a.At, a.Cancelled = now, time.Time{}
			if a.Resolved {
				f, _ := pagedLast(last, Firing{ID: a.ID, Since: a.Since, Resolved: true, Alert: a.Alert, Group: a.Group})
				a.LastID, a.LastSince = f.ID, f.Since
			}
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
			if !a.Resolved {
				if err := idx.Put(heldByKey(a.ID, number, until), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger hold sms to %s: %w", phone.Mask(number), err)
	}
	return nil
}

// supersedeHeld cancels the held firing entries of the alerts for
// number, under any end of quiet hours: the alerts just reached number by
// another SMS (a route without quiet hours, a notification after they
// ended but before the held SMS went out, or the held SMS of an earlier
// end, when a reload moved it), and a held SMS must not tell of them
// again. An entry that a held SMS in doubt tells of is left to it: that
// send may have told of it already, and settling it releases the entry.
func supersedeHeld(tx *bolt.Tx, number string, alerts []Firing, now time.Time) error {
	c := tx.Bucket(bucketHeldBy).Cursor()
	if k, _ := c.First(); k == nil {
		return nil // nothing is held, as nearly always
	}
	b := tx.Bucket(bucketHeld)
	marks := newHeldMarks(tx)
	var prefix []byte
	for _, a := range alerts {
		prefix = append(append(append(append(prefix[:0], a.ID...), 0), number...), 0)
		var untils []time.Time
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			// Only alert 0 number 0 until: an id may hold a NUL.
			if len(k) == len(prefix)+8 {
				untils = append(untils, decodeTime(k[len(prefix):]))
			}
		}
		for _, until := range untils {
			if _, err := cancelEntry(b, marks, heldHit{alert: a.ID, number: number, until: until}, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// cancelEntry cancels the held firing entry of h at now, unless a held SMS
// in doubt tells of it or it is cancelled already, and reports whether it
// did.
func cancelEntry(b *bolt.Bucket, marks *heldMarks, h heldHit, now time.Time) (bool, error) {
	if marks.names(h) {
		return false, nil
	}
	k := heldKey(h.number, h.until, false, h.alert)
	var a HeldAlert
	if v := b.Get(k); v == nil || json.Unmarshal(v, &a) != nil || !a.Cancelled.IsZero() {
		return false, nil
	}
	a.Cancelled = now
	v, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	return true, b.Put(k, v)
}

// heldHit is an index entry of a held firing alert; of is the resolved
// alert asked for whose firing it holds: alert itself, or an earlier
// firing of it (see heldHits).
type heldHit struct {
	alert, number string
	until         time.Time
	of            string
}

// heldHits reads the index for the alerts, each once, and for their
// earlier firings: an alert that resolved and fired again between two
// notifications of its group comes back resolved with a later start (see
// Firing.Alert), and a firing SMS held of the earlier one would tell of
// an alert that has ended.
func heldHits(tx *bolt.Tx, alerts []Firing) []heldHit {
	var hits []heldHit
	b := tx.Bucket(bucketHeld)
	c := tx.Bucket(bucketHeldBy).Cursor()
	if k, _ := c.First(); k == nil {
		return nil // nothing is held, as nearly always
	}
	sorted := slices.SortedFunc(slices.Values(alerts), func(a, b Firing) int { return strings.Compare(a.ID, b.ID) })
	for _, a := range slices.CompactFunc(sorted, func(a, b Firing) bool { return a.ID == b.ID }) {
		// The ids of an alert's firings begin with the alert and a byte
		// that ends it (see Firing.Alert): the scan reads no other alert's.
		earlier := a.Alert != "" && !a.Since.IsZero() && len(a.ID) > len(a.Alert) && strings.HasPrefix(a.ID, a.Alert)
		prefix := []byte(a.ID + "\x00")
		if earlier {
			prefix = []byte(a.ID[:len(a.Alert)+1])
		}
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			// An alert id may hold a NUL, a number never: the number is
			// between the last NUL before the until and that until.
			if len(k) < 10 || k[len(k)-9] != 0 {
				continue
			}
			rest := k[:len(k)-9]
			cut := bytes.LastIndexByte(rest, 0)
			if cut < 0 {
				continue
			}
			h := heldHit{alert: string(rest[:cut]), number: string(rest[cut+1:]), until: decodeTime(k[len(k)-8:]), of: a.ID}
			if h.alert != a.ID && !(earlier && earlierFiring(b, h, a)) {
				continue
			}
			hits = append(hits, h)
		}
	}
	return hits
}

// earlierFiring reports whether the held entry of h is of a's alert, of
// a firing that began before a. Entries held before the alert was kept
// are not known to be.
func earlierFiring(b *bolt.Bucket, h heldHit, a Firing) bool {
	var held HeldAlert
	v := b.Get(heldKey(h.number, h.until, false, h.alert))
	return v != nil && json.Unmarshal(v, &held) == nil && held.Alert == a.Alert && !held.Since.IsZero() && held.Since.Before(a.Since)
}

// HeldFor returns, per alert, the numbers its firing SMS, or an earlier
// firing's (see heldHits), is held for or was until a resolved
// notification cancelled it: those who never heard of it; alerts held
// for nobody are left out. Of those, inDoubt are the numbers whose held
// SMS telling of the alert is being sent or of unknown outcome. It is
// CancelHeld's answer without the cancelling, for a preview.
func (l *Ledger) HeldFor(alerts []Firing) (held, inDoubt map[string][]string, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		hits := heldHits(tx, alerts)
		held = numbersByAlert(hits)
		inDoubt, _ = sortHits(newHeldMarks(tx), hits)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("ledger lookup held: %w", err)
	}
	return held, inDoubt, nil
}

// numbersByAlert is HeldFor's answer from the index's hits.
func numbersByAlert(hits []heldHit) map[string][]string {
	out := map[string][]string{}
	for _, h := range hits {
		if !slices.Contains(out[h.of], h.number) {
			out[h.of] = append(out[h.of], h.number)
		}
	}
	return out
}

// CancelHeld cancels the held firing SMS of the alerts, which resolved,
// and of their earlier firings (see heldHits): they are not sent when the
// quiet hours end. It returns HeldFor's
// answer; per alert, the numbers whose held SMS that tells of it is being
// sent or of unknown outcome, which it leaves alone: whether they heard
// of the alert is not known until that SMS is settled; and how many held
// entries it cancelled now. It writes only when there is something to
// cancel, and then answers from what the write saw.
func (l *Ledger) CancelHeld(alerts []Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	live := false
	if err := l.db.View(func(tx *bolt.Tx) error {
		hits := heldHits(tx, alerts)
		held = numbersByAlert(hits)
		inDoubt, live = sortHits(newHeldMarks(tx), hits)
		return nil
	}); err != nil {
		return nil, nil, 0, fmt.Errorf("ledger cancel held: %w", err)
	}
	if !live {
		return held, inDoubt, 0, nil
	}
	now := l.now()
	err = l.write(func(tx *bolt.Tx) error {
		cancelled = 0
		b := tx.Bucket(bucketHeld)
		hits := heldHits(tx, alerts)
		held = numbersByAlert(hits)
		marks := newHeldMarks(tx)
		inDoubt, _ = sortHits(marks, hits)
		for _, h := range hits {
			done, err := cancelEntry(b, marks, h, now)
			if err != nil {
				return err
			}
			if done {
				cancelled++
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("ledger cancel held: %w", err)
	}
	return held, inDoubt, cancelled, nil
}

// sortHits returns, per alert, the numbers of the hits whose held SMS's
// in-doubt mark names them, and whether any other hit is still to cancel.
func sortHits(marks *heldMarks, hits []heldHit) (inDoubt map[string][]string, live bool) {
	b := marks.tx.Bucket(bucketHeld)
	for _, h := range hits {
		if marks.names(h) {
			if inDoubt == nil {
				inDoubt = map[string][]string{}
			}
			if !slices.Contains(inDoubt[h.of], h.number) {
				inDoubt[h.of] = append(inDoubt[h.of], h.number)
			}
			continue
		}
		var a HeldAlert
		if v := b.Get(heldKey(h.number, h.until, false, h.alert)); v != nil && json.Unmarshal(v, &a) == nil && a.Cancelled.IsZero() {
			live = true
		}
	}
	return inDoubt, live
}

// DueHeld returns the held SMS whose quiet hours ended at or before now,
// by number and then until, each with the alerts not cancelled; an SMS
// all of whose alerts were cancelled is left out. An SMS whose send is in
// doubt comes with its mark and the alerts that send told of.
func (l *Ledger) DueHeld(now time.Time) ([]HeldSMS, error) {
	var out []HeldSMS
	err := l.db.View(func(tx *bolt.Tx) error {
		out = nil
		if err := eachHeld(tx, func(number string, until time.Time, a HeldAlert) error {
			if until.After(now) || !a.Cancelled.IsZero() {
				return nil
			}
			if n := len(out); n == 0 || out[n-1].Number != number || !out[n-1].Until.Equal(until) {
				out = append(out, HeldSMS{Number: number, Until: until})
			}
			out[len(out)-1].Alerts = append(out[len(out)-1].Alerts, a)
			return nil
		}); err != nil {
			return err
		}
		due := out[:0]
		for _, h := range out {
			if d, ok := heldInDoubt(tx, h.Number, h.Until); ok {
				told := d.entrySet()
				h.Alerts = slices.DeleteFunc(h.Alerts, func(a HeldAlert) bool { return !told[heldEntry(a)] })
				h.Doubt = &d.Doubt
			}
			if len(h.Alerts) > 0 {
				due = append(due, h)
			}
		}
		out = due
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger due held: %w", err)
	}
	return out, nil
}

// HeldCount returns how many SMS quiet hours hold, due or not, and since
// when the longest held one waits (zero when none is).
func (l *Ledger) HeldCount() (sms int, oldest time.Time, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		sms, oldest = 0, time.Time{}
		var last []byte
		return eachHeld(tx, func(number string, until time.Time, a HeldAlert) error {
			if !a.Cancelled.IsZero() {
				return nil
			}
			if group := heldKey(number, until, false, ""); !bytes.Equal(group[:len(group)-1], last) {
				last = group[:len(group)-1]
				sms++
			}
			if oldest.IsZero() || a.At.Before(oldest) {
				oldest = a.At
			}
			return nil
		})
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("ledger count held: %w", err)
	}
	return sms, oldest, nil
}

// eachHeld calls fn for every held entry in key order: by number, then
// until, firing before resolved. An entry it cannot read is skipped.
func eachHeld(tx *bolt.Tx, fn func(number string, until time.Time, a HeldAlert) error) error {
	return tx.Bucket(bucketHeld).ForEach(func(k, v []byte) error {
		number, until, resolved, id, ok := parseHeldKey(k)
		var a HeldAlert
		if !ok || json.Unmarshal(v, &a) != nil {
			return nil
		}
		a.ID, a.Resolved = id, resolved
		return fn(number, until, a)
	})
}

// ReleaseHeld forgets what the SMS h told of, and its in-doubt mark, once
// it went out or was given up, and, when paged, notes its firing alerts
// as paged to h.Number by their contacts and routes, and its resolved ones
// as told so, in one write: from then on a resolved alert of it is told as
// of any page.
func (l *Ledger) ReleaseHeld(h HeldSMS, paged bool) error {
	now := encodeTime(l.now())
	err := l.write(func(tx *bolt.Tx) error {
		b, idx := tx.Bucket(bucketHeld), tx.Bucket(bucketHeldBy)
		if err := tx.Bucket(bucketHeldDoubts).Delete(heldDoubtKey(h.Number, h.Until)); err != nil {
			return err
		}
		marks := map[PagedRecipient][]Firing{}
		since, old := tx.Bucket(bucketPagedSince), tx.Bucket(bucketPagedByAlert)
		for _, a := range h.Alerts {
			if err := b.Delete(heldKey(h.Number, h.Until, a.Resolved, a.ID)); err != nil {
				return err
			}
			if !a.Resolved {
				if err := idx.Delete(heldByKey(a.ID, h.Number, h.Until)); err != nil {
					return err
				}
			}
			to := PagedRecipient{Number: h.Number, Contact: a.Contact, Route: a.Route}
			marks[to] = append(marks[to], Firing{ID: a.ID, Since: a.Since, Resolved: a.Resolved, Alert: a.Alert, Group: a.Group})
			if last := (Firing{ID: a.LastID, Since: a.LastSince, Resolved: true}); a.LastID != "" && hasMark(since, old, h.Number, last) {
				marks[to] = append(marks[to], last)
			}
		}
		if !paged {
			return nil
		}
		for to, ids := range marks {
			if err := markPaged(tx, to, ids, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger release held sms to %s: %w", phone.Mask(h.Number), err)
	}
	return nil
}

// purgeHeld deletes cancelled entries older than the dedup window (a
// retry of the notification that cancelled them comes within it), and
// entries still held a paged retention after their quiet hours ended,
// which no SMS will tell of any more.
func (l *Ledger) purgeHeld(tx *bolt.Tx) (int, error) {
	n := 0
	now := l.now()
	c := tx.Bucket(bucketHeld).Cursor()
	idx := tx.Bucket(bucketHeldBy)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		number, until, resolved, id, ok := parseHeldKey(k)
		var a HeldAlert
		readable := ok && json.Unmarshal(v, &a) == nil
		switch {
		case !readable:
		case !a.Cancelled.IsZero() && now.Sub(a.Cancelled) >= l.o.DedupWindow:
		case now.Sub(until) >= l.o.PagedRetention:
		default:
			continue
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		if ok && !resolved {
			if err := idx.Delete(heldByKey(id, number, until)); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, nil
}
