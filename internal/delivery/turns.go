package delivery

import "sync"

// turns order the messages of one batch at the limits. Message i may count
// against the limits only once message i-1 passed its turn, and a message
// passes its turn once its count is queued in the ledger (which decides
// the counts in the order they were queued, sharing a commit) or it gave
// up; so when a limit forces a choice, the most severe messages (sorted
// first) win it, while the sends themselves still run concurrently.
type turns []*turn

// turn is one message's turn at the limits.
type turn struct {
	prev <-chan struct{} // closed when the message before passed its turn
	done chan struct{}   // closed when this message passes its turn
	once sync.Once
}

// newTurns returns the turns of n messages; the first has its turn at once.
func newTurns(n int) turns {
	prev := make(chan struct{})
	close(prev)
	ts := make(turns, n)
	for i := range ts {
		ts[i] = &turn{prev: prev, done: make(chan struct{})}
		prev = ts[i].done
	}
	return ts
}

// wait blocks until it is message i's turn and returns it. The caller must
// pass it, at the latest when it is done with the message.
func (ts turns) wait(i int) *turn {
	<-ts[i].prev
	return ts[i]
}

// pass lets the next message have its turn. Passing again does nothing, so
// that a message can pass as soon as it counted and again, to be sure, when
// it is done.
func (t *turn) pass() { t.once.Do(func() { close(t.done) }) }
