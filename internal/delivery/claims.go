package delivery

import (
	"context"
	"fmt"
	"sync"
)

// claims are the keys being sent right now, so that a duplicate arriving
// meanwhile (from the other replica of an HA pair, or twice in one batch)
// waits for the outcome, which the ledger then shows, instead of sending a
// second SMS.
type claims struct {
	mu       sync.Mutex
	inflight map[string]chan struct{} // closed when the key is released
}

func newClaims() *claims {
	return &claims{inflight: map[string]chan struct{}{}}
}

// claim waits until nobody holds key and takes it, or returns an error
// wrapping ctx.Err() when ctx ends first. The caller must call release,
// once, when done.
func (c *claims) claim(ctx context.Context, key string) (release func(), err error) {
	for {
		c.mu.Lock()
		busy, ok := c.inflight[key]
		if !ok {
			done := make(chan struct{})
			c.inflight[key] = done
			c.mu.Unlock()
			return func() { c.release(key, done) }, nil
		}
		c.mu.Unlock()
		// Released: try again, since another waiter may take it first.
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a concurrent send of the same page: %w", ctx.Err())
		}
	}
}

func (c *claims) release(key string, done chan struct{}) {
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	close(done)
}
