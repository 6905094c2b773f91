package pager

import (
	"context"
	"strings"
	"testing"
)

// TestFallbackKeepsAlertnameLegible: the fallback text (both templates failed or timed out)
// must not turn the alertname into question marks on a gsm7 route, as the templates' legible
// keeps it.
func TestFallbackKeepsAlertnameLegible(t *testing.T) {
	p, rec, _ := newPager(t, `
sipgate: {dry_run: true}
routes:
  - name: r
    to: ["+4915100000001"]
    encoding: gsm7
`)
	p.engine = failingRenderer{}
	n := load(t, "webhook-firing-2-alerts.json")
	for i := range n.Alerts {
		n.Alerts[i].Labels["alertname"] = "磁盘满"
	}
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 1 {
		t.Fatalf("messages = %+v", rec.msgs)
	}
	if got := rec.msgs[0].Text; !strings.Contains(got, "磁盘满") {
		t.Fatalf("fallback text %q lost the alertname to '?'", got)
	}
}

// TestFallbackCountsWhatResolved: the fallback's RESOLVED counts the
// alerts that resolved, as the built-in template's does, not those that
// max_alerts left out, whose state is not known.
func TestFallbackCountsWhatResolved(t *testing.T) {
	p, rec, _ := newPager(t, `
sipgate: {dry_run: true}
routes: [{name: r, to: ["+4915100000001"]}]
`)
	p.engine = failingRenderer{}
	n := load(t, "webhook-firing-2-alerts.json")
	for i := range n.Alerts {
		n.Alerts[i].Status = "resolved"
	}
	n.Status, n.TruncatedAlerts = "resolved", 5
	if err := p.Notify(context.Background(), n, ""); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 1 || !strings.HasPrefix(rec.msgs[0].Text, "RESOLVED 2 ") {
		t.Fatalf("fallback text %+v, want RESOLVED 2", rec.msgs)
	}
}
