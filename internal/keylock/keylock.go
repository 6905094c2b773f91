// Package keylock holds locks by key, such as the key of an SMS being sent
// or the Alertmanager group of a notification being paged: whoever takes a
// key waits until nobody holds it, or gives up when its context ends.
package keylock

import (
	"context"
	"sync"
)

// Set is a set of locks by key; its zero value holds none. A key takes
// memory only while it is held, so the set is as large as its holders.
type Set[K comparable] struct {
	mu   sync.Mutex
	held map[K]chan struct{} // closed when the key is unlocked
}

// Lock waits until nobody holds key and takes it, or returns ctx.Err()
// when ctx ends first. The caller must call unlock when done; calls after
// the first do nothing.
func (s *Set[K]) Lock(ctx context.Context, key K) (unlock func(), err error) {
	return s.LockAll(ctx, []K{key})
}

// LockAll waits until nobody holds any of keys and takes them all at once,
// or returns ctx.Err() when ctx ends first; keys may repeat. It never
// holds some of the keys while it waits for others, so callers that lock
// overlapping sets in any order cannot wait for each other. unlock is as
// for Lock.
func (s *Set[K]) LockAll(ctx context.Context, keys []K) (unlock func(), err error) {
	for {
		s.mu.Lock()
		busy := s.busy(keys)
		if busy == nil {
			if s.held == nil {
				s.held = make(map[K]chan struct{}, len(keys))
			}
			done := make(chan struct{})
			for _, k := range keys {
				s.held[k] = done
			}
			s.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { s.unlock(keys, done) }) }, nil
		}
		s.mu.Unlock()
		// Unlocked: try again, since another waiter may take it first.
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// busy returns the channel of a held key of keys, nil when none is held.
// s.mu must be held.
func (s *Set[K]) busy(keys []K) chan struct{} {
	if len(s.held) == 0 {
		return nil
	}
	for _, k := range keys {
		if done, ok := s.held[k]; ok {
			return done
		}
	}
	return nil
}

func (s *Set[K]) unlock(keys []K, done chan struct{}) {
	s.mu.Lock()
	for _, k := range keys {
		delete(s.held, k)
	}
	s.mu.Unlock()
	close(done)
}
