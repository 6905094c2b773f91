package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterDigestsOwed(t *testing.T) {
	for _, tc := range []struct {
		name      string
		people    int
		oldest    time.Time
		wantOwed  string
		wantSince string
	}{
		{"none owed", 0, time.Time{}, "0", "0"},
		{"two owed", 2, time.Date(2025, 11, 26, 12, 21, 0, 500_000_000, time.UTC), "2", "1.7641596605e+09"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			RegisterDigestsOwed(reg, func() (int, time.Time) { return tc.people, tc.oldest })
			want := fmt.Sprintf(`# HELP alertmanager_sipgate_digests_owed People owed a digest SMS about alerts a flood limit held back.
# TYPE alertmanager_sipgate_digests_owed gauge
alertmanager_sipgate_digests_owed %s
# HELP alertmanager_sipgate_digests_owed_since_timestamp_seconds Since when the longest owed digest is owed, 0 when none is.
# TYPE alertmanager_sipgate_digests_owed_since_timestamp_seconds gauge
alertmanager_sipgate_digests_owed_since_timestamp_seconds %s
`, tc.wantOwed, tc.wantSince)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestDigestsOwedReadOncePerScrape: both gauges come from one read of the
// ledger, so they agree and a scrape costs one read.
func TestDigestsOwedReadOncePerScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	reads := 0
	RegisterDigestsOwed(reg, func() (int, time.Time) {
		reads++
		return reads, time.Unix(int64(reads), 0)
	})
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if reads != 1 {
		t.Errorf("%d reads of the ledger in one scrape, want 1", reads)
	}
}
