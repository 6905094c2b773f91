package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ledgerCounts are the service's metrics of its ledger's commits at one
// moment: loadgen reads them before and after the measured run, to say how
// busy the ledger's one writer was.
type ledgerCounts struct {
	commits float64 // alertmanager_sipgate_ledger_commit_duration_seconds_count
	seconds float64 // its _sum: the time the commits held the writer
	writes  float64 // alertmanager_sipgate_ledger_writes_total
}

// readLedgerCounts reads them from the service's /metrics at url with
// client, the load's own (no proxy).
func readLedgerCounts(ctx context.Context, client *http.Client, url string) (ledgerCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/metrics", nil)
	if err != nil {
		return ledgerCounts{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return ledgerCounts{}, fmt.Errorf("read the service's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ledgerCounts{}, fmt.Errorf("read the service's metrics: %s", resp.Status)
	}
	return parseLedgerCounts(resp.Body)
}

// parseLedgerCounts reads the ledger's counts from metrics in Prometheus's
// text format; they have no labels. A service without them is an error.
func parseLedgerCounts(r io.Reader) (ledgerCounts, error) {
	var c ledgerCounts
	fields := map[string]*float64{
		"alertmanager_sipgate_ledger_commit_duration_seconds_count": &c.commits,
		"alertmanager_sipgate_ledger_commit_duration_seconds_sum":   &c.seconds,
		"alertmanager_sipgate_ledger_writes_total":                  &c.writes,
	}
	found := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// name value [timestamp]; these metrics have no labels.
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		name := f[0]
		field, want := fields[name]
		if !want {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return ledgerCounts{}, fmt.Errorf("metric %s: %w", name, err)
		}
		*field = v
		found++
	}
	if err := sc.Err(); err != nil {
		return ledgerCounts{}, fmt.Errorf("read metrics: %w", err)
	}
	if found != len(fields) {
		return ledgerCounts{}, fmt.Errorf("the service's metrics lack the ledger's commits (a build before they were exposed?)")
	}
	return c, nil
}

// setLedger fills in the ledger's figures of the measured run of elapsed,
// from the counts before and after it.
func (r *result) setLedger(before, after ledgerCounts, elapsed time.Duration) {
	r.LedgerRead = true
	commits := after.commits - before.commits
	if commits <= 0 {
		return
	}
	r.LedgerCommits = int(commits)
	r.LedgerWritesPerCommit = (after.writes - before.writes) / commits
	r.LedgerCommitMeanMS = (after.seconds - before.seconds) * 1000 / commits
	if elapsed > 0 {
		r.LedgerBusy = (after.seconds - before.seconds) / elapsed.Seconds()
	}
}
