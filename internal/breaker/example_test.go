package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
)

// unavailable is what a sipgate in trouble answers: temporary.
type unavailable struct{}

func (unavailable) Error() string   { return "sipgate server error (503)" }
func (unavailable) Temporary() bool { return true }

// sendOnce is one attempt of a send as delivery makes it: ask the breaker,
// call sipgate only if allowed, and report how the call went.
func sendOnce(ctx context.Context, b *breaker.Breaker, call func(context.Context) error) error {
	ticket, err := b.Allow()
	if err != nil {
		return err // *breaker.OpenError: temporary, sipgate not called
	}
	// A safety net for early returns and panics; does nothing once
	// Report was called.
	defer ticket.Abandon()
	err = call(ctx)
	ticket.Report(err)
	return err
}

func Example() {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	b := breaker.New(breaker.Options{Threshold: 2, Now: func() time.Time { return now }})
	calls := 0
	down := func(context.Context) error { calls++; return unavailable{} }

	for range 4 {
		err := sendOnce(context.Background(), b, down)
		var open *breaker.OpenError
		fmt.Printf("%v (refused by the breaker: %t)\n", err, errors.As(err, &open))
	}
	fmt.Println("calls to sipgate:", calls, "state:", b.Stats().State)

	now = now.Add(time.Second)
	up := func(context.Context) error { calls++; return nil }
	fmt.Println("probe:", sendOnce(context.Background(), b, up), "state:", b.Stats().State)
	// Output:
	// sipgate server error (503) (refused by the breaker: false)
	// sipgate server error (503) (refused by the breaker: false)
	// sipgate circuit open for 0s (2 consecutive failures): not calling sipgate, next probe in 1s (refused by the breaker: true)
	// sipgate circuit open for 0s (2 consecutive failures): not calling sipgate, next probe in 1s (refused by the breaker: true)
	// calls to sipgate: 2 state: open
	// probe: <nil> state: closed
}
