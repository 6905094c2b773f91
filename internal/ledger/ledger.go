// Package ledger remembers, across restarts, which recipient was already
// paged for which notification, so that a notification Alertmanager retries
// or that both replicas of an HA pair send pages nobody twice.
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("delivered")

// Ledger is a persistent set of delivery keys that expire after a window.
// It is safe for concurrent use.
type Ledger struct {
	db     *bolt.DB
	window time.Duration
	now    func() time.Time
}

// Open opens or creates the ledger file at path. Entries older than window
// count as absent: the window must stay below Alertmanager's
// repeat_interval, or deliberate repeats would be swallowed.
func Open(path string, window time.Duration) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	// A timeout, because bbolt otherwise waits forever for a file another
	// process holds.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = errors.New("file is locked: is another instance using the same --storage.path?")
		}
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return &Ledger{db: db, window: window, now: time.Now}, nil
}

// Delivered reports whether key was recorded within the window.
func (l *Ledger) Delivered(key string) (bool, error) {
	var at time.Time
	err := l.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucket).Get([]byte(key)); len(v) == 8 {
			at = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ledger lookup: %w", err)
	}
	return !at.IsZero() && l.now().Sub(at) < l.window, nil
}

// Record notes that key was delivered now. It is synced to disk before it
// returns, so a crash right after a send does not forget it.
func (l *Ledger) Record(key string) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(l.now().UnixNano()))
	if err := l.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte(key), v)
	}); err != nil {
		return fmt.Errorf("ledger record: %w", err)
	}
	return nil
}

// Purge deletes the entries that have expired and returns how many.
func (l *Ledger) Purge() (int, error) {
	cutoff := l.now().Add(-l.window).UnixNano()
	n := 0
	err := l.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < cutoff {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ledger purge: %w", err)
	}
	return n, nil
}

// Len returns the number of entries, expired ones not yet purged included.
func (l *Ledger) Len() int {
	n := 0
	// A failed read transaction of an open database only happens when it
	// was closed; reporting 0 then is right.
	_ = l.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	return n
}

// Close flushes and closes the file.
func (l *Ledger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close ledger: %w", err)
	}
	return nil
}
