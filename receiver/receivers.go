package receiver

import "regexp"

// Receivers is a set of Alertmanager receiver names, those a config routes
// on: the values the receiver label of webhooks_received_total may take
// besides OtherReceiver, so that the number of series is fixed by the
// config and not by what clients send.
type Receivers struct {
	names map[string]string
}

// NewReceivers returns the set of names; empty names are left out.
func NewReceivers(names ...string) Receivers {
	r := Receivers{names: make(map[string]string, 2*len(names))}
	// Alertmanager sends a receiver's name through regexp.QuoteMeta, so
	// "a.b" arrives as `a\.b`; both forms mean the name. The names
	// themselves go in last so that they win over a quoted form that
	// happens to equal another name.
	for _, n := range names {
		if n != "" {
			r.names[regexp.QuoteMeta(n)] = n
		}
	}
	for _, n := range names {
		if n != "" {
			r.names[n] = n
		}
	}
	return r
}

// Name returns the name in the set that receiver, the receiver field of a
// webhook, stands for, and whether there is one.
func (r Receivers) Name(receiver string) (string, bool) {
	n, ok := r.names[receiver]
	return n, ok
}
