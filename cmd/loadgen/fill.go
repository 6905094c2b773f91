package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

const (
	// fillDay is how far back the sends of --ledger-sends reach: the
	// longest window of --limits, so that every one of them counts.
	fillDay = 24 * time.Hour
	// fillNumbers is how many people those sends went to, none of them a
	// recipient of the load.
	fillNumbers = 1000
	// fillWriters take the sends at once, so that they share the
	// ledger's commits (at most 256 writes each).
	fillWriters = 256
)

// loadLimits are the limits of --limits: a 10m and a day per recipient and
// a day's budget, each so high that no load reaches it, so that every SMS
// is checked and counted and none held back.
func loadLimits() (perRecipient []ledger.Window, budget ledger.Window) {
	const max = 1_000_000_000
	return []ledger.Window{{Max: max, Per: 10 * time.Minute}, {Max: max, Per: fillDay}}, ledger.Window{Max: max, Per: fillDay}
}

// fillNumber is the number the i-th send of the fill went to.
func fillNumber(i int) string {
	return fmt.Sprintf("+4916%08d", i%fillNumbers)
}

// fillLedger writes n sends into the ledger file at path, as a day of n
// SMS to fillNumbers people leaves it: spread evenly over the fillDay
// before now, oldest first, each counted as the service counts an SMS it
// sends (through the ledger's own Take). The service, started on the
// file afterwards, finds them in its limit windows: what its limit checks
// cost with a full ledger is then measured against an empty one. With
// limits, the fill takes each send against loadLimits, as a service that
// ran the day with them would have: the ledger then keeps the windows'
// counts, and the service's first check finds them rather than counting
// the day's sends once.
func fillLedger(ctx context.Context, path string, n int, now time.Time, limits bool) error {
	if n <= 0 {
		return nil
	}
	start, gap := now.Add(-fillDay), fillDay/time.Duration(n)
	// Each Take reads the clock once: the k-th read is the k-th send's
	// time. Open may read it too, so the clock never passes now.
	var reads atomic.Int64
	clock := func() time.Time {
		if t := start.Add(time.Duration(reads.Add(1)) * gap); t.Before(now) {
			return t
		}
		return now
	}
	l, err := ledger.Open(path, ledger.Options{Now: clock})
	if err != nil {
		return fmt.Errorf("fill the ledger: %w", err)
	}
	// Forced, no window is checked; with limits, every one of them.
	take := func(number string) error {
		_, _, err := l.Take(number, 0, nil, ledger.Window{}, true)
		return err
	}
	if limits {
		perRecipient, budget := loadLimits()
		take = func(number string) error {
			_, ok, err := l.Take(number, 0, perRecipient, budget, false)
			if err == nil && !ok {
				err = fmt.Errorf("a send to %s held back by limits no load reaches", number)
			}
			return err
		}
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range fillWriters {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := take(fillNumber(i)); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil && first == nil {
		first = err
	}
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		return fmt.Errorf("fill the ledger: %w", first)
	}
	return nil
}
