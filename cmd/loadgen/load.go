package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Why a run stopped.
const (
	stoppedCount       = "count"       // all --notifications were answered
	stoppedDuration    = "duration"    // --duration passed first
	stoppedInterrupted = "interrupted" // Ctrl-C or SIGTERM
)

// loadOptions say what to post where.
type loadOptions struct {
	url                string
	username, password string
	concurrency        int
	// rate, when above 0, is how many notifications start per second,
	// spread evenly: an open load, as many independent alert groups make.
	// A notification's latency then counts from its scheduled start, so
	// that a service falling behind shows in it.
	rate float64
	// notifications bounds the notifications sent, 0 for no bound; so does
	// duration, 0 for none. At least one must bound the run.
	notifications int
	duration      time.Duration
	payloads      *payloads
	client        *http.Client
}

// loadStats is what posting found.
type loadStats struct {
	sent int // requests started
	ok   int // answered 200
	// other counts the answers other than 200, by status code.
	other map[int]int
	// failed counts requests that got no answer; firstError is one of
	// their errors.
	failed     int
	firstError string
	// latencies are those of the requests answered 200, sorted.
	latencies []time.Duration
	elapsed   time.Duration
	stopped   string
}

// load posts notifications from o.concurrency workers, each as soon as the
// one before was answered or at the pace of o.rate, until o.notifications
// were sent or o.duration passed, then waits for the answers to those in
// flight. Ending ctx aborts the requests in flight too.
func load(ctx context.Context, o loadOptions) loadStats {
	dispatch, stop := context.WithCancel(ctx)
	if o.duration > 0 {
		dispatch, stop = context.WithTimeout(ctx, o.duration)
	}
	defer stop()

	var (
		next    atomic.Int64
		mu      sync.Mutex
		total   = loadStats{other: map[int]int{}}
		workers sync.WaitGroup
	)
	began := time.Now()
	for range o.concurrency {
		workers.Go(func() {
			w := loadStats{other: map[int]int{}}
			for dispatch.Err() == nil {
				n := int(next.Add(1)) - 1
				if o.notifications > 0 && n >= o.notifications {
					break
				}
				var late time.Duration
				if o.rate > 0 {
					scheduled := began.Add(time.Duration(float64(n) * float64(time.Second) / o.rate))
					if !waitUntil(dispatch, scheduled) {
						break
					}
					late = max(time.Since(scheduled), 0)
				}
				w.sent++
				code, took, err := post(ctx, o, n)
				took += late
				switch {
				case err != nil:
					w.failed++
					if w.firstError == "" {
						w.firstError = err.Error()
					}
				case code == http.StatusOK:
					w.ok++
					w.latencies = append(w.latencies, took)
				default:
					w.other[code]++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total.add(w)
		})
	}
	workers.Wait()
	total.elapsed = time.Since(began)
	slices.Sort(total.latencies)
	switch {
	case ctx.Err() != nil:
		total.stopped = stoppedInterrupted
	case o.notifications > 0 && total.sent >= o.notifications:
		total.stopped = stoppedCount
	default:
		total.stopped = stoppedDuration
	}
	return total
}

// waitUntil waits for t; it reports false when ctx ended first.
func waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// add adds the counts of w to s.
func (s *loadStats) add(w loadStats) {
	s.sent += w.sent
	s.ok += w.ok
	s.failed += w.failed
	for code, n := range w.other {
		s.other[code] += n
	}
	if s.firstError == "" {
		s.firstError = w.firstError
	}
	s.latencies = append(s.latencies, w.latencies...)
}

// post sends notification n and returns the answer's status code and how
// long it took, its body read.
func post(ctx context.Context, o loadOptions, n int) (int, time.Duration, error) {
	body, err := o.payloads.body(n)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	// What Alertmanager sends, besides its version in User-Agent.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/loadgen")
	req.SetBasicAuth(o.username, o.password)
	began := time.Now()
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("notification %d: %w", n, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(began)
	if err != nil {
		return 0, 0, fmt.Errorf("notification %d: read answer: %w", n, err)
	}
	return resp.StatusCode, took, nil
}

// percentile returns the q-quantile (0 < q <= 1) of sorted by the nearest
// rank, 0 for none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
