package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openGroup(t *testing.T) *groupCommit {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "group.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return &groupCommit{db: db}
}

// txID is the id of the last commit: it grows by one with each.
func txID(t *testing.T, db *bolt.DB) int {
	t.Helper()
	var id int
	if err := db.View(func(tx *bolt.Tx) error {
		id = tx.ID()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(key), []byte("x")) }
}

// waitQueued waits until n writes wait for the commit under way.
func waitQueued(t *testing.T, g *groupCommit, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		g.mu.Lock()
		queued := len(g.queue)
		g.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", queued, n)
		}
		<-tick.C
	}
}

// holdCommit starts a write of fn that holds its commit open until the
// returned release is called (again, it does nothing), and returns once
// that commit is under way; wait waits for the write's result.
func holdCommit(t *testing.T, g *groupCommit, fn func(*bolt.Tx) error) (release func(), wait func() error) {
	t.Helper()
	started, held := make(chan struct{}), make(chan struct{})
	var startOnce, releaseOnce sync.Once
	done := make(chan error, 1)
	go func() {
		done <- g.do(func(tx *bolt.Tx) error {
			startOnce.Do(func() { close(started) })
			<-held
			return fn(tx)
		})
	}()
	<-started
	return func() { releaseOnce.Do(func() { close(held) }) }, func() error { return <-done }
}

func TestGroupCommitSharesOneCommitAmongQueuedWrites(t *testing.T) {
	g := openGroup(t)
	const queued = 20
	first := txID(t, g.db)
	release, wait := holdCommit(t, g, put("held"))
	errs := make([]error, queued)
	var wg sync.WaitGroup
	for i := range queued {
		wg.Go(func() { errs[i] = g.do(put(fmt.Sprint("k", i))) })
	}
	waitQueued(t, g, queued)
	release()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if commits := txID(t, g.db) - first; commits != 2 {
		t.Errorf("%d commits, want 2: the held one, then all %d queued writes in one", commits, queued)
	}
	if err := g.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("b")).Stats().KeyN; n != queued+1 {
			t.Errorf("%d keys written, want %d", n, queued+1)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitTellsOfEachCommit: Committed hears of every commit with
// the writes it held, and of no transaction that failed.
func TestGroupCommitTellsOfEachCommit(t *testing.T) {
	g := openGroup(t)
	var mu sync.Mutex
	var told []int
	g.committed = func(writes int, took time.Duration) {
		if took <= 0 {
			t.Errorf("a commit of %d writes took %v", writes, took)
		}
		mu.Lock()
		told = append(told, writes)
		mu.Unlock()
	}
	release, wait := holdCommit(t, g, put("held"))
	fail := func(*bolt.Tx) error { return errors.New("boom") }
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i, fn := range []func(*bolt.Tx) error{put("a"), fail, put("b"), put("c")} {
		wg.Go(func() { errs[i] = g.do(fn) })
		waitQueued(t, g, i+1)
	}
	release()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errors = %v, want only the second to fail", errs)
	}
	// The held write alone; then the three queued that did not fail (the
	// first try, with the failing one, rolled back); the failing one's
	// run alone failed too.
	if want := []int{1, 3}; !slices.Equal(told, want) {
		t.Errorf("commits told of %v writes, want %v", told, want)
	}
}

func TestGroupCommitEachLoneWriteCommitsBeforeItReturns(t *testing.T) {
	g := openGroup(t)
	first := txID(t, g.db)
	for i := range 3 {
		if err := g.do(put(fmt.Sprint("k", i))); err != nil {
			t.Fatal(err)
		}
		if commits := txID(t, g.db) - first; commits != i+1 {
			t.Fatalf("after write %d: %d commits", i+1, commits)
		}
	}
}

// TestGroupCommitFailingWriteFailsAlone queues a write that reads and
// increments a counter, one that fails, and one more: the failure must
// reach only its caller, and the counter's reader must see what was
// committed although its function ran twice.
func TestGroupCommitFailingWriteFailsAlone(t *testing.T) {
	g := openGroup(t)
	errBoom := errors.New("boom")
	release, wait := holdCommit(t, g, put("held"))

	var counted uint64
	runs := 0
	increment := func(tx *bolt.Tx) error {
		runs++
		b := tx.Bucket([]byte("b"))
		counted = decodeCount(b.Get([]byte("counter"))) + 1
		return putCount(b, []byte("counter"), counted)
	}
	fail := func(tx *bolt.Tx) error {
		if err := put("failed")(tx); err != nil {
			return err
		}
		return errBoom
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, fn := range []func(*bolt.Tx) error{increment, fail, put("after")} {
		wg.Go(func() { errs[i] = g.do(fn) })
		waitQueued(t, g, i+1) // in this order
	}
	release()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], errBoom) || errs[2] != nil {
		t.Fatalf("errors = %v, want only the second to fail", errs)
	}
	if runs != 2 {
		t.Errorf("the write before the failing one ran %d times, want 2", runs)
	}
	if err := g.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		if got := decodeCount(b.Get([]byte("counter"))); got != 1 || counted != 1 {
			t.Errorf("counter = %d, its writer read %d; want 1 and 1", got, counted)
		}
		if !has(b, []byte("after")) || has(b, []byte("failed")) {
			t.Error("want the write after the failing one, and nothing of the failing one")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitPanicReachesOnlyItsCaller(t *testing.T) {
	g := openGroup(t)
	release, wait := holdCommit(t, g, put("held"))
	var recovered any
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { recovered = recover() }()
		_ = g.do(func(*bolt.Tx) error { panic("bad write") })
	})
	waitQueued(t, g, 1)
	var err error
	wg.Go(func() { err = g.do(put("after")) })
	waitQueued(t, g, 2)
	release()
	wg.Wait()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if recovered != "bad write" {
		t.Errorf("the panicking write's caller recovered %v, want its panic", recovered)
	}
	if err != nil {
		t.Errorf("the other write failed: %v", err)
	}
}

// has reports whether b holds key. (Get cannot tell a missing key from
// one whose value is empty.)
func has(b *bolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return bytes.Equal(k, key)
}

// TestGroupCommitWriteAloneKeepsItsPlace: a write that must commit alone
// does, in its place in the queue; the writes before it share a commit,
// and so do those after it.
func TestGroupCommitWriteAloneKeepsItsPlace(t *testing.T) {
	g := openGroup(t)
	var mu sync.Mutex
	var ran []string
	ids := map[string]int{}
	write := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			mu.Lock()
			ran = append(ran, key)
			ids[key] = tx.ID()
			mu.Unlock()
			return put(key)(tx)
		}
	}
	release, wait := holdCommit(t, g, put("held"))
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i, key := range []string{"a", "b", "alone", "c", "d"} {
		if key == "alone" {
			wg.Go(func() { errs[i] = g.doAlone(write(key)) })
		} else {
			wg.Go(func() { errs[i] = g.do(write(key)) })
		}
		waitQueued(t, g, i+1)
	}
	release()
	wg.Wait()
	if err := errors.Join(append(errs, wait())...); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "alone", "c", "d"}; !slices.Equal(ran, want) {
		t.Errorf("writes ran in the order %v, want %v", ran, want)
	}
	if ids["a"] != ids["b"] || ids["c"] != ids["d"] || ids["b"] >= ids["alone"] || ids["alone"] >= ids["c"] {
		t.Errorf("transactions %v, want a and b in one, then alone in its own, then c and d in one", ids)
	}
}
