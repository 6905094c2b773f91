package receiver

// gate admits at most a fixed number of holders at once and turns the next
// one away at once instead of queueing it: a queue would keep its
// connection and, soon after, its body, which is what the bound is for.
type gate chan struct{}

// newGate admits up to n holders; with n <= 0 it admits none.
func newGate(n int) gate {
	return make(gate, max(n, 0))
}

// enter takes a place if one is free and reports whether it did; a true
// result must be followed by exactly one leave.
func (g gate) enter() bool {
	select {
	case g <- struct{}{}:
		return true
	default:
		return false
	}
}

// leave gives back a place taken by enter.
func (g gate) leave() {
	<-g
}
