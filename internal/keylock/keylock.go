// Package keylock holds locks by key, such as the key of an SMS being sent
// or the Alertmanager group of a notification being paged: whoever takes a
// key waits until nobody holds it, or gives up when its context ends.
package keylock

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// shrinkAbove is the most keys the set's map may have held and still be
// kept once no key is held: Go's maps do not shrink, and a storm of locks
// must not keep its map for good.
const shrinkAbove = 1024

// Set is a set of locks by key; its zero value holds none. A key takes
// memory only while it is held, and the map sized for a storm's keys is
// let go once they are, so the set is as large as its holders.
type Set[K cmp.Ordered] struct {
	mu   sync.Mutex
	held map[K]chan struct{} // closed when the key is unlocked
	peak int                 // the most keys held at once since held was made
}

// Lock waits until nobody holds key and takes it, or returns ctx.Err()
// when ctx ends first. The caller must call unlock when done; calls after
// the first do nothing.
func (s *Set[K]) Lock(ctx context.Context, key K) (unlock func(), err error) {
	return s.LockAll(ctx, []K{key})
}

// LockAll takes every one of keys (which may repeat), or none when ctx
// ends first, returning ctx.Err(). It takes them in their order, those
// free at once together, and waits at the first held one, keeping the
// ones before it: since every caller goes in the same order, two cannot
// wait for each other, and a caller of many keys is not starved by
// callers of few, whose keys it keeps once taken. unlock is as for Lock.
func (s *Set[K]) LockAll(ctx context.Context, keys []K) (unlock func(), err error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var taken []chan struct{} // one per run of keys taken together
	free := func(n int) {
		s.mu.Lock()
		for _, k := range keys[:n] {
			delete(s.held, k)
		}
		if len(s.held) == 0 && s.peak > shrinkAbove {
			s.held, s.peak = nil, 0
		}
		s.mu.Unlock()
		for _, done := range taken {
			close(done)
		}
	}
	for n := 0; n < len(keys); {
		s.mu.Lock()
		if s.held == nil {
			s.held = make(map[K]chan struct{}, len(keys)-n)
		}
		done := make(chan struct{})
		start := n
		var busy chan struct{}
		for ; n < len(keys); n++ {
			if b, ok := s.held[keys[n]]; ok {
				busy = b
				break
			}
			s.held[keys[n]] = done
		}
		s.peak = max(s.peak, len(s.held))
		s.mu.Unlock()
		if n > start {
			taken = append(taken, done)
		}
		if busy == nil {
			break
		}
		// Unlocked: try again, since another waiter may take it first.
		select {
		case <-busy:
		case <-ctx.Done():
			free(n)
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { free(len(keys)) }) }, nil
}
