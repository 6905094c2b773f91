package status

import (
	"sync"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
)

// RecentDeliveries is how many delivery events a Recent keeps.
const RecentDeliveries = 50

// Recent keeps the last deliveries, as delivery.Options.Observe tells
// them, for the status page: a ring of a fixed size, so that a storm
// costs no more memory than a quiet day. It is safe for concurrent use.
type Recent struct {
	mu   sync.Mutex
	ring []delivery.Event
	next int // where the next event goes
	full bool
}

// NewRecent returns a Recent that keeps the last n events; n < 1 keeps
// one.
func NewRecent(n int) *Recent {
	return &Recent{ring: make([]delivery.Event, max(n, 1))}
}

// Observe keeps e, forgetting the oldest event when the ring is full. It
// is a delivery.Options.Observe.
func (r *Recent) Observe(e delivery.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	if r.next == 0 {
		r.full = true
	}
}

// List returns the events kept, newest first.
func (r *Recent) List() []delivery.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.ring)
	}
	out := make([]delivery.Event, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out
}
