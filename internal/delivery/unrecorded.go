package delivery

import (
	"sync"
	"time"
)

// maxUnrecorded bounds the keys an unrecorded set holds.
const maxUnrecorded = 1024

// unrecorded are the keys of SMS whose outcome is known here but whose
// ledger write failed: handled (sipgate took them, or their outcome was
// settled) and not recorded, or certainly not sent and their in-doubt
// mark not cleared. Their marks stay, and without this the next copy of
// the notification, or the next check of a summary, would take them for
// lost answers: it would send a handled SMS again when sipgate's history
// does not list it yet, and give an unsent one up as sent when no resend
// is allowed. A key matters only while its mark lives: deliverOnce drops
// it once the mark is gone, a summary's release drops it. Kept in memory
// and bounded, the oldest key giving way: after a restart, or for a key
// given way, such an SMS is settled as one whose answer was lost.
type unrecorded struct {
	mu   sync.Mutex
	keys map[string]outcomeKnown
	adds uint64
}

// outcomeKnown is what is known of a key: when it was added, in adds, and
// when it was not sent, the time its send was taken at, for the refund.
type outcomeKnown struct {
	n      uint64
	unsent bool
	at     time.Time
}

func newUnrecorded() *unrecorded {
	return &unrecorded{keys: map[string]outcomeKnown{}}
}

// add notes key as handled.
func (u *unrecorded) add(key string) { u.put(key, outcomeKnown{}) }

// addUnsent notes key as certainly not sent, its send taken at at.
func (u *unrecorded) addUnsent(key string, at time.Time) {
	u.put(key, outcomeKnown{unsent: true, at: at})
}

// put notes key, making room by forgetting the oldest key when full.
func (u *unrecorded) put(key string, o outcomeKnown) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.keys[key]; !ok && len(u.keys) >= maxUnrecorded {
		oldest, first := "", uint64(0)
		for k, o := range u.keys {
			if oldest == "" || o.n < first {
				oldest, first = k, o.n
			}
		}
		delete(u.keys, oldest)
	}
	u.adds++
	o.n = u.adds
	u.keys[key] = o
}

// has reports whether key was handled.
func (u *unrecorded) has(key string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	o, ok := u.keys[key]
	return ok && !o.unsent
}

// unsentAt reports whether key was certainly not sent, and when its send
// was taken.
func (u *unrecorded) unsentAt(key string) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	o, ok := u.keys[key]
	return o.at, ok && o.unsent
}

func (u *unrecorded) remove(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.keys, key)
}
