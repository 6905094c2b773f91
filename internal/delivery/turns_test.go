package delivery

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// waitTurn is ts.wait(i) that fails the test instead of hanging.
func waitTurn(t *testing.T, ts turns, i int) *turn {
	t.Helper()
	got := make(chan *turn, 1)
	go func() { got <- ts.wait(i) }()
	select {
	case tu := <-got:
		return tu
	case <-time.After(5 * time.Second):
		t.Fatalf("turn %d never came", i)
		return nil
	}
}

func TestTurnsGoInOrder(t *testing.T) {
	for round := range 20 {
		const n = 8
		ts := newTurns(n)
		var (
			mu    sync.Mutex
			order []int
			wg    sync.WaitGroup
		)
		// Started last first, so that without turns the order would
		// mostly come out wrong.
		for i := n - 1; i >= 0; i-- {
			wg.Go(func() {
				tu := ts.wait(i)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				tu.pass()
			})
		}
		wg.Wait()
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(order, want) {
			t.Fatalf("round %d: turns taken in order %v, want %v", round, order, want)
		}
	}
}

// opened reports whether message i may have its turn now.
func opened(ts turns, i int) bool {
	select {
	case <-ts[i].prev:
		return true
	default:
		return false
	}
}

func TestTurnOpensOnlyOnceThePreviousPassed(t *testing.T) {
	ts := newTurns(3)
	if !opened(ts, 0) {
		t.Fatal("the first turn is not open")
	}
	first := waitTurn(t, ts, 0)
	if opened(ts, 1) || opened(ts, 2) {
		t.Fatal("later turns open while the first is held")
	}
	// Passed once it counted, and again when done: the second pass must
	// neither panic nor open more than the next turn.
	first.pass()
	first.pass()
	if !opened(ts, 1) || opened(ts, 2) {
		t.Fatalf("after the first passed: turn 1 open %v, turn 2 open %v; want true, false", opened(ts, 1), opened(ts, 2))
	}
	waitTurn(t, ts, 1).pass()
	if !opened(ts, 2) {
		t.Fatal("turn 2 not open after turn 1 passed")
	}
}
