package status

import (
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
)

// routes are the routes of the events, in the order listed.
func routes(events []delivery.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Route)
	}
	return out
}

func TestRecent(t *testing.T) {
	tests := []struct {
		name     string
		size, in int
		want     []string
	}{
		{name: "empty", size: 3, in: 0, want: nil},
		{name: "part full", size: 3, in: 2, want: []string{"1", "0"}},
		{name: "just full", size: 3, in: 3, want: []string{"2", "1", "0"}},
		{name: "wrapped", size: 3, in: 7, want: []string{"6", "5", "4"}},
		{name: "size below one keeps one", size: 0, in: 2, want: []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecent(tt.size)
			for i := range tt.in {
				r.Observe(delivery.Event{Route: strconv.Itoa(i)})
			}
			if got := routes(r.List()); !slices.Equal(got, tt.want) {
				t.Errorf("List() routes = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecentConcurrent(t *testing.T) {
	r := NewRecent(RecentDeliveries)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				r.Observe(delivery.Event{Route: strconv.Itoa(g*1000 + i)})
				_ = r.List()
			}
		})
	}
	wg.Wait()
	if n := len(r.List()); n != RecentDeliveries {
		t.Errorf("kept %d events after 800, want %d", n, RecentDeliveries)
	}
}
