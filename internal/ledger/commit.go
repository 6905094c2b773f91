package ledger

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds the writes that share one commit, so that one
// transaction, and what its callers wait for, stays short however many
// queue up.
const maxGroup = 256

// groupCommit runs write transactions so that those submitted while a
// commit is under way share the next one, and so its fdatasyncs: a storm of
// concurrent sends costs a few disk syncs per batch of SMS, not two per
// write, and yet each write is on disk before its caller goes on.
//
// It keeps the contract of bbolt's DB.Batch (a function may run more than
// once, so it must compute its results afresh in each run and the caller
// reads them only once do returned; a function that fails runs again
// alone, so that it fails nobody else's write), but it starts a commit as
// soon as the previous one ended instead of after DB.Batch's timer
// (MaxBatchDelay, 10ms by default): a lone write commits at once, and
// writes group by themselves exactly when the disk is the bottleneck.
//
// A write may ask to commit alone (doAlone): it keeps its place in the
// queue, and those before and after it share their commits.
//
// The caller that finds no commit under way leads: it commits everything
// queued, its own write included, and hands the lead to the first write
// queued meanwhile, whose caller commits the next group. So no goroutine
// of its own is needed, and none leads for longer than one commit.
type groupCommit struct {
	db *bolt.DB
	// committed, when set, is told of each commit (see Options.Committed).
	committed func(writes int, took time.Duration)

	mu      sync.Mutex
	queue   []*write
	leading bool // some caller is committing, or about to
}

// write is one queued function and where its caller waits: done receives
// errLead, errSolo or the function's result (nil, or the commit's error).
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
	// alone has fn commit in a transaction of its own, between the
	// writes queued before and after it.
	alone bool
}

var (
	// errLead tells a waiting caller that it commits the next group.
	errLead = errors.New("lead the next commit")
	// errSolo tells a caller that its function failed in a group: it
	// runs again alone, and its own error is the caller's.
	errSolo = errors.New("run again alone")
)

// do runs fn in a write transaction that may hold other callers' writes,
// and returns once that transaction is committed and synced, or failed.
func (g *groupCommit) do(fn func(*bolt.Tx) error) error { return g.doQueued(fn, nil) }

// doAlone is do for a write that must not share its transaction: one whose
// layout of pages is its own to choose (see Ledger.writeMarks). It keeps its
// place in the queue, and the writes queued before and after it still
// share their commits with each other.
func (g *groupCommit) doAlone(fn func(*bolt.Tx) error) error {
	return g.submit(&write{fn: fn, done: make(chan error, 1), alone: true}, nil)
}

// doQueued is do that calls queued, when set, as soon as fn is queued: a
// write queued after it runs after it, in the same transaction or a later
// one (unless fn fails in its group: then it runs again alone, after
// writes queued later may have), so a caller that orders its writes can
// let the next one queue without waiting for this one's syncs. queued
// runs before this caller leads, should it lead: it must be quick, must
// not write and must not panic, or no commit follows.
func (g *groupCommit) doQueued(fn func(*bolt.Tx) error, queued func()) error {
	return g.submit(&write{fn: fn, done: make(chan error, 1)}, queued)
}

func (g *groupCommit) submit(w *write, queued func()) error {
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if queued != nil {
		queued()
	}

	err := errLead
	if !lead {
		err = <-w.done
	}
	if err == errLead {
		g.lead()
		err = <-w.done
	}
	if err == errSolo {
		return g.update(w.fn, 1)
	}
	return err
}

// update runs fn in a write transaction of its own, which holds writes of
// the callers that wait for it (none for the purge's), and tells committed
// how long the transaction held bbolt's one writer, if it committed: from
// when it had the writer, not from when it asked for it, so that a commit
// that waited for another is not counted twice.
func (g *groupCommit) update(fn func(*bolt.Tx) error, writes int) error {
	var start time.Time
	err := g.db.Update(func(tx *bolt.Tx) error {
		start = time.Now()
		return fn(tx)
	})
	if err == nil && g.committed != nil {
		g.committed(writes, time.Since(start))
	}
	return err
}

// lead commits the writes queued now, then hands the lead to the next
// queued write, or gives it up when none is.
func (g *groupCommit) lead() {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	for len(group) > 0 {
		n := 1 // a write alone, or the writes up to the next such
		for !group[0].alone && n < len(group) && !group[n].alone {
			n++
		}
		g.commit(group[:n])
		group = group[n:]
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- errLead
	} else {
		g.leading = false
		g.queue = nil // let the backing array of a past storm go
	}
	g.mu.Unlock()
}

// commit runs the group's functions in one transaction. A function that
// fails (or panics) rolls the transaction back: its caller is told to run
// it alone, and the rest are run again without it.
func (g *groupCommit) commit(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := g.update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		}, len(group))
		if failed < 0 {
			for _, w := range group {
				w.done <- err
			}
			return
		}
		group[failed].done <- errSolo
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// safely calls fn, turning a panic into an error so that it cannot take
// the callers of other writes with it: the caller whose function panicked
// runs it again alone, where the panic reaches it.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
