package bounded

import (
	"testing"
	"time"
)

var sink []byte

func TestAllocatedCountsWhatFnAllocates(t *testing.T) {
	got := Allocated(t, time.Minute, func() { sink = make([]byte, 8<<20) })
	if got < 8<<20 {
		t.Errorf("allocated %d bytes, want at least 8 MiB", got)
	}
}

// fatalRecorder notes a failure instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper()               {}
func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true }

func TestWithinFailsAHangingCall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	r := &fatalRecorder{TB: t}
	Within(r, 10*time.Millisecond, func() { <-release })
	if !r.failed {
		t.Error("a call that never returned passed")
	}
}
