package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketGroupResolved remembers, per group of Alertmanager (as the caller
// names it: group key and receiver) and alert, that the group's last word
// on the alert was resolved: group 0 alert -> time, then the Alertmanager
// that said so. It is what tells the same firing coming again (an alert
// Alertmanager resolved when its source went quiet, sent again as it was,
// with its old start) from a late copy of a notification sent before the
// resolved one, whose payloads are the same.
var bucketGroupResolved = []byte("group_resolved")

// GroupResolved is a group's resolved word on an alert.
type GroupResolved struct {
	// At is when the word was noted.
	At time.Time
	// By is the Alertmanager that sent it, as the caller named it.
	By string
}

func groupKey(group, alert string) []byte {
	return append(append([]byte(group), 0), alert...)
}

// ResolvedIn returns, of the alerts, those whose last word from group,
// within the paged retention, was resolved.
func (l *Ledger) ResolvedIn(group string, alerts []string) (map[string]GroupResolved, error) {
	out := map[string]GroupResolved{}
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroupResolved)
		for _, a := range alerts {
			if v := b.Get(groupKey(group, a)); len(v) >= 8 && l.within(v[:8], l.o.PagedRetention) {
				out[a] = GroupResolved{At: decodeTime(v[:8]), By: string(v[8:])}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger lookup resolved in group: %w", err)
	}
	return out, nil
}

// NoteGroup notes the words of a notification of group, from the
// Alertmanager by: the alerts it says resolved, and those it says fire
// again after it said they resolved (the caller notes those only once
// the notification was answered with success, so that its retry reads
// them as they were). The HA peer's copy of a resolved word, within the
// dedup window of the first, leaves the first as it is: the sender of a
// firing notification after it is then the one that said it first.
//
// Once the notification was answered with success (answered),
// Alertmanager sends the group's next firing of each resolved alert as
// news, and whom that pages is whom its RESOLVED reaches: the group's
// last paged firing of the alert, when it is the resolved one or began
// before it (an unseen refire's, see Firing.Alert), is no longer noted.
// A RESOLVED that failed leaves it, and its retry still finds whom that
// firing paged.
func (l *Ledger) NoteGroup(group, by string, resolved []Firing, firingAgain []string, answered bool) error {
	if len(resolved) == 0 && len(firingAgain) == 0 {
		return nil
	}
	now := l.now()
	v := append(encodeTime(now), by...)
	err := l.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroupResolved)
		for _, a := range firingAgain {
			if err := b.Delete(groupKey(group, a)); err != nil {
				return err
			}
		}
		var keys [][]byte
		for _, a := range resolved {
			k := groupKey(group, a.ID)
			if old := b.Get(k); len(old) >= 8 && string(old[8:]) != by && now.Sub(decodeTime(old[:8])) < l.o.DedupWindow {
				continue
			}
			keys = append(keys, k)
		}
		if err := putSorted(b, keys, v); err != nil {
			return err
		}
		if !answered {
			return nil
		}
		return forgetPagedLast(tx.Bucket(bucketPagedLast), group, resolved)
	})
	if err != nil {
		return fmt.Errorf("ledger note group: %w", err)
	}
	return nil
}

// forgetPagedLast deletes the notes of group's last paged firings that
// are the resolved alerts' own or began no later than them: an unseen
// refire's RESOLVED, answered, ends the earlier firing's part too.
func forgetPagedLast(b *bolt.Bucket, group string, resolved []Firing) error {
	hash := fnv64a(group)
	size := 0
	for _, a := range resolved {
		size += 8 + len(a.Alert) + 9 + len(a.ID)
	}
	// Each key with its firing's start (a byte that says whether it is
	// known, then the time) and id after it, within its capacity, which
	// so travel with it through the sort (as in notePagedLast).
	buf := make([]byte, 0, size)
	keys := make([][]byte, 0, len(resolved))
	for _, a := range resolved {
		if a.Alert == "" {
			continue
		}
		start := len(buf)
		buf = pagedLastKey(buf, hash, a.Alert)
		end := len(buf)
		if a.Since.IsZero() { // matches by id only
			buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		} else {
			buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(a.Since.UnixNano()))
		}
		buf = append(buf, a.ID...)
		keys = append(keys, buf[start:end:len(buf)])
	}
	sortKeys(keys)
	for _, k := range keys {
		asked := k[len(k):cap(k)]
		v := b.Get(k)
		if len(v) < 16 {
			continue
		}
		if string(v[16:]) == string(asked[9:]) || (asked[0] == 1 && !decodeTime(v[8:16]).After(decodeTime(asked[1:9]))) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	return nil
}
