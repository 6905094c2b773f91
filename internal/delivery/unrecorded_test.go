package delivery

import (
	"strconv"
	"testing"
)

// TestUnrecordedKeepsTheNewest: past maxUnrecorded keys the oldest gives
// way to the new one; a key added again counts as new.
func TestUnrecordedKeepsTheNewest(t *testing.T) {
	u := newUnrecorded()
	for i := range maxUnrecorded {
		u.add(strconv.Itoa(i))
	}
	u.add("0") // again: now the newest
	u.add("one more")
	if !u.has("one more") || !u.has("0") {
		t.Error("the newest keys were not kept")
	}
	if u.has("1") {
		t.Error("the oldest key did not give way")
	}
	if n := len(u.keys); n != maxUnrecorded {
		t.Errorf("%d keys held, want %d", n, maxUnrecorded)
	}
	u.remove("0")
	if u.has("0") {
		t.Error("a removed key is still held")
	}
}
