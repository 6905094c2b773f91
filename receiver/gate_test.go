package receiver

import "testing"

func TestGate(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		admit int
	}{
		{"bound of three", 3, 3},
		{"bound of one", 1, 1},
		{"zero admits none", 0, 0},
		{"negative admits none", -5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(tt.n)
			for i := range tt.admit {
				if !g.enter() {
					t.Fatalf("enter %d refused, want admitted", i)
				}
			}
			if g.enter() {
				t.Fatalf("enter beyond the bound of %d admitted", tt.admit)
			}
			if tt.admit == 0 {
				return
			}
			g.leave()
			if !g.enter() {
				t.Error("enter after a leave refused")
			}
			if g.enter() {
				t.Error("enter beyond the bound admitted after a leave")
			}
		})
	}
}
