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
type Set struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when the key is unlocked
}

// Lock waits until nobody holds key and takes it, or returns ctx.Err()
// when ctx ends first. The caller must call unlock when done; calls after
// the first do nothing.
func (s *Set) Lock(ctx context.Context, key string) (unlock func(), err error) {
	for {
		s.mu.Lock()
		busy, ok := s.held[key]
		if !ok {
			if s.held == nil {
				s.held = map[string]chan struct{}{}
			}
			done := make(chan struct{})
			s.held[key] = done
			s.mu.Unlock()
			var once sync.Once
			return func() { once.Do(func() { s.unlock(key, done) }) }, nil
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

func (s *Set) unlock(key string, done chan struct{}) {
	s.mu.Lock()
	delete(s.held, key)
	s.mu.Unlock()
	close(done)
}
