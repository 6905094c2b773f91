package delivery

import (
	"strconv"
	"testing"
)

// TestUnrecordedIsBounded: past maxUnrecorded keys no more are held; a key
// held already is, and one removed makes room.
func TestUnrecordedIsBounded(t *testing.T) {
	u := newUnrecorded()
	for i := range maxUnrecorded {
		if !u.add(strconv.Itoa(i)) {
			t.Fatalf("key %d refused below the bound", i)
		}
	}
	if u.add("one more") || u.has("one more") {
		t.Error("a key past the bound was held")
	}
	if !u.add("0") {
		t.Error("a key held already was refused")
	}
	u.remove("0")
	if u.has("0") || !u.add("one more") {
		t.Error("removing a key made no room")
	}
}
