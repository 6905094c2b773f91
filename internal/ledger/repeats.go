package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketRepeats remembers, per group of Alertmanager (group key and
// receiver), the repeat notifications it was answered: group -> time,
// previous time, the externalURL of the Alertmanager that sent it.
var bucketRepeats = []byte("repeats")

// Repeat is the last repeat notification of a group that Alertmanager
// was answered with success. Alertmanager sends a group again unchanged
// only when its repeat_interval elapsed since it logged a success, or as
// a retry of a notification it got no success for: so a repeat that
// arrives after a success is a new one, and one that arrives before is a
// retry. An HA peer that did not hear of the success sends it too.
type Repeat struct {
	// At is when the last repeat was answered; zero when none was.
	At time.Time
	// Previous is when the repeat before it was answered.
	Previous time.Time
	// By is the externalURL of the Alertmanager that sent the last one.
	By string
}

// LastRepeat returns the last repeat of group that was answered.
func (l *Ledger) LastRepeat(group string) (Repeat, error) {
	var r Repeat
	err := l.db.View(func(tx *bolt.Tx) error {
		r = decodeRepeat(tx.Bucket(bucketRepeats).Get([]byte(group)))
		return nil
	})
	if err != nil {
		return Repeat{}, fmt.Errorf("ledger: last repeat: %w", err)
	}
	return r, nil
}

// RecordRepeat notes that a repeat of group sent by the Alertmanager at
// externalURL by was answered with success now.
func (l *Ledger) RecordRepeat(group, by string) error {
	now := l.now()
	err := l.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRepeats)
		last := decodeRepeat(b.Get([]byte(group)))
		v := append(encodeTime(now), make([]byte, 8)...) // no previous: 0
		if !last.At.IsZero() {
			copy(v[8:], encodeTime(last.At))
		}
		return b.Put([]byte(group), append(v, by...))
	})
	if err != nil {
		return fmt.Errorf("ledger: record repeat: %w", err)
	}
	return nil
}

func decodeRepeat(v []byte) Repeat {
	if len(v) < 16 {
		return Repeat{}
	}
	r := Repeat{At: decodeTime(v[:8]), By: string(v[16:])}
	if binary.BigEndian.Uint64(v[8:16]) != 0 {
		r.Previous = decodeTime(v[8:16])
	}
	return r
}
