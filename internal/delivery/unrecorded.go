package delivery

import "sync"

// maxUnrecorded bounds the keys an unrecorded set holds.
const maxUnrecorded = 1024

// unrecorded are the keys of SMS that were handled (sipgate took them, or
// their outcome was settled) but whose record the ledger failed to write.
// Their in-doubt marks stay, and without this the notification's next copy
// would settle them from sipgate's history, which may not list them yet,
// and send them again though sipgate's answer was never lost. It is kept
// in memory and bounded: after a restart, or past maxUnrecorded failed
// records, such an SMS is settled as one whose answer was lost.
type unrecorded struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func newUnrecorded() *unrecorded {
	return &unrecorded{keys: map[string]struct{}{}}
}

// add notes key, and reports whether there was room for it.
func (u *unrecorded) add(key string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.keys[key]; !ok && len(u.keys) >= maxUnrecorded {
		return false
	}
	u.keys[key] = struct{}{}
	return true
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
