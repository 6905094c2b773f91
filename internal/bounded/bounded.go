// Package bounded lets tests check that a call ends in time and how much it
// allocates, so that fuzz targets can assert that no input hangs the code
// or makes it allocate without bound.
package bounded

import (
	"runtime"
	"testing"
	"time"
)

// Within runs fn and fails t unless it returns within limit. fn runs in a
// goroutine of its own, which a failing test leaves behind.
func Within(t testing.TB, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("no result within %v", limit)
	}
}

// Allocated runs fn as Within does and returns the bytes the process
// allocated meanwhile: fn's, and whatever else ran, so callers bound it
// with some slack.
func Allocated(t testing.TB, limit time.Duration, fn func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	Within(t, limit, fn)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
