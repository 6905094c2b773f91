package oncall

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// Collector exposes alertmanager_sipgate_oncall{schedule,contact}, worked
// out at each scrape from the config current returns at now(): 1 for each
// contact a page to the schedule reaches (its fallback when nobody is on
// call), 0 for every other contact the schedule names in its layers,
// overrides and fallback. The series are bounded by the config, and stay
// the same while it does, so that a dashboard can show the rotation.
type Collector struct {
	current func() *config.Config
	now     func() time.Time
	desc    *prometheus.Desc
}

// NewCollector returns the Collector of the config current returns.
func NewCollector(current func() *config.Config, now func() time.Time) *Collector {
	return &Collector{
		current: current,
		now:     now,
		desc: prometheus.NewDesc("alertmanager_sipgate_oncall",
			"1 for each contact a page to the schedule reaches now (its fallback when nobody is on call), 0 for the schedule's other contacts.",
			[]string{"schedule", "contact"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	cfg, at := c.current(), c.now()
	for _, name := range cfg.ScheduleNames() {
		on, ok := cfg.OnCallAt(name, at)
		if !ok {
			continue
		}
		paged := map[string]bool{}
		for _, r := range on.Recipients {
			paged[r.Name] = true
		}
		for _, contact := range contactsOf(cfg, cfg.Schedules[name]) {
			v := 0.0
			if paged[contact] {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, name, contact)
		}
	}
}

// contactsOf are the names of every contact the schedule can page, each
// once. Each name is expanded alone: Expand keeps one name per number,
// and contacts that share a number must each keep their series.
func contactsOf(cfg *config.Config, s *config.Schedule) []string {
	var names []string
	for _, l := range s.Layers {
		names = append(names, l.Members...)
	}
	for _, o := range s.Overrides {
		names = append(names, o.Contact)
	}
	names = append(names, s.Fallback...)
	var out []string
	seen := map[string]bool{}
	for _, name := range names {
		for _, r := range cfg.Expand([]string{name}) {
			if !seen[r.Name] {
				seen[r.Name] = true
				out = append(out, r.Name)
			}
		}
	}
	return out
}
