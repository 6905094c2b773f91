package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseLedgerCounts(t *testing.T) {
	const metrics = `# HELP alertmanager_sipgate_ledger_commit_duration_seconds How long each commit...
# TYPE alertmanager_sipgate_ledger_commit_duration_seconds histogram
alertmanager_sipgate_ledger_commit_duration_seconds_bucket{le="0.001"} 90
alertmanager_sipgate_ledger_commit_duration_seconds_bucket{le="+Inf"} 120
alertmanager_sipgate_ledger_commit_duration_seconds_sum 0.25
alertmanager_sipgate_ledger_commit_duration_seconds_count 120
alertmanager_sipgate_ledger_entries 42
# TYPE alertmanager_sipgate_ledger_writes_total counter
alertmanager_sipgate_ledger_writes_total	480 1764240000000
`
	got, err := parseLedgerCounts(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ledgerCounts{commits: 120, seconds: 0.25, writes: 480}); got != want {
		t.Errorf("parseLedgerCounts = %+v, want %+v", got, want)
	}
	for name, text := range map[string]string{
		"without the writes": strings.ReplaceAll(metrics, "alertmanager_sipgate_ledger_writes_total\t480 1764240000000", ""),
		"a bad value":        strings.ReplaceAll(metrics, "_count 120", "_count many"),
	} {
		if _, err := parseLedgerCounts(strings.NewReader(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSetLedger(t *testing.T) {
	var r result
	r.setLedger(ledgerCounts{commits: 10, seconds: 1, writes: 30}, ledgerCounts{commits: 110, seconds: 1.5, writes: 430}, 2*time.Second)
	if r.LedgerCommits != 100 || r.LedgerWritesPerCommit != 4 || r.LedgerCommitMeanMS != 5 || r.LedgerBusy != 0.25 {
		t.Errorf("setLedger: %d commits, %v writes, %v ms each, busy %v; want 100, 4, 5, 0.25", r.LedgerCommits, r.LedgerWritesPerCommit, r.LedgerCommitMeanMS, r.LedgerBusy)
	}
	var none result
	none.setLedger(ledgerCounts{commits: 5}, ledgerCounts{commits: 5}, time.Second)
	if !none.LedgerRead || none.LedgerCommits != 0 || none.LedgerBusy != 0 {
		t.Errorf("no commits: %+v", none)
	}
}
