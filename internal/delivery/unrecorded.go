package delivery

import "sync"

// maxUnrecorded bounds the keys an unrecorded set holds.
const maxUnrecorded = 1024

// unrecorded are the keys of SMS that were handled (sipgate took them, or
// their outcome was settled) but whose record the ledger failed to write.
// Their in-doubt marks stay, and without this the notification's next copy
// would settle them from sipgate's history, which may not list them yet,
// and send them again though sipgate's answer was never lost. A key
// matters only while its mark lives (the dedup window): deliverOnce drops
// it once the mark is gone. Kept in memory and bounded, the oldest key
// giving way: after a restart, or for a key given way, such an SMS is
// settled as one whose answer was lost.
type unrecorded struct {
	mu   sync.Mutex
	keys map[string]uint64 // key -> when added, in adds
	adds uint64
}

func newUnrecorded() *unrecorded {
	return &unrecorded{keys: map[string]uint64{}}
}

// add notes key, making room by forgetting the oldest key when full.
func (u *unrecorded) add(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.keys[key]; !ok && len(u.keys) >= maxUnrecorded {
		oldest, first := "", uint64(0)
		for k, n := range u.keys {
			if oldest == "" || n < first {
				oldest, first = k, n
			}
		}
		delete(u.keys, oldest)
	}
	u.adds++
	u.keys[key] = u.adds
}

func (u *unrecorded) has(key string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.keys[key]
	return ok
}

func (u *unrecorded) remove(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.keys, key)
}
