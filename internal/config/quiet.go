package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/schedule"
)

// Values of quiet_hours.defer: how an SMS waits for the end of quiet
// hours.
const (
	// DeferHold keeps the SMS in the ledger and sends, when the quiet
	// hours end, one SMS per recipient about the alerts still firing then.
	DeferHold = "hold"
	// DeferSendAt hands the SMS to sipgate at once with sendAt set to the
	// end of the quiet hours: sipgate sends it then, even if the alerts
	// resolved meanwhile.
	DeferSendAt = "send_at"
)

// MaxQuietHours is the longest that quiet hours may last without a
// break: no SMS waits longer, and sipgate schedules an SMS at most a
// month ahead. Quiet hours that would last longer are a config error;
// should they still (a reload that was not checked), the SMS goes at once.
const MaxQuietHours = 30 * 24 * time.Hour

// QuietHours defer the SMS of a route's less urgent alerts while any of
// the named time intervals holds, unlike Alertmanager's
// mute_time_intervals, which drop them.
type QuietHours struct {
	// TimeIntervals name entries of time_intervals. One without a location
	// is read on the config's time_zone.
	TimeIntervals []string `yaml:"time_intervals"`
	// Severities are the values of the severity label whose SMS wait
	// (warning, info): an alert of another severity, or of none, pages
	// at once.
	Severities []string `yaml:"severities"`
	// Defer is how an SMS waits: hold (the default) or send_at.
	Defer string `yaml:"defer"`

	// Intervals are TimeIntervals looked up, on the config's clock;
	// filled at load.
	Intervals schedule.Intervals `yaml:"-"`
}

// Until reports whether the SMS of an alert of the severity waits at the
// instant at, and until when: the end of the quiet hours, at most
// MaxQuietHours later.
func (q *QuietHours) Until(severity string, at time.Time) (time.Time, bool) {
	if !q.Defers(severity) {
		return time.Time{}, false
	}
	return q.End(at)
}

// Defers reports whether the quiet hours defer alerts of the severity.
func (q *QuietHours) Defers(severity string) bool {
	return q != nil && slices.Contains(q.Severities, severity)
}

// End returns when the quiet hours that hold at the instant at end, and
// false when they do not hold then or do not end within MaxQuietHours.
func (q *QuietHours) End(at time.Time) (time.Time, bool) {
	return q.Intervals.End(at, MaxQuietHours)
}

// checkQuietHours checks a route's quiet_hours and looks its time
// intervals up.
func (c *Config) checkQuietHours(path string, q *QuietHours, p *problems) {
	if q == nil {
		return
	}
	path += ".quiet_hours"
	byName := c.timeIntervalsByName()
	q.Intervals = schedule.Intervals{Location: c.quietLocation()}
	if len(q.TimeIntervals) == 0 {
		p.add(path+".time_intervals", "is required: the names of time_intervals during which the SMS wait")
	}
	for i, name := range q.TimeIntervals {
		found, ok := byName[name]
		if !ok {
			p.add(fmt.Sprintf("%s.time_intervals[%d]", path, i), "unknown time interval %q%s", name, suggest(name, sortedKeys(byName)))
			continue
		}
		q.Intervals.List = append(q.Intervals.List, found...)
	}
	if len(q.Severities) == 0 {
		p.add(path+".severities", "is required: the values of the severity label whose SMS wait, such as [warning, info]")
	}
	for i, s := range q.Severities {
		switch {
		case s == "":
			p.add(fmt.Sprintf("%s.severities[%d]", path, i), "is empty")
		case !slices.Contains(c.Limits.SeverityOrder, s):
			c.warn(fmt.Sprintf("%s.severities[%d]", path, i), "%q is not in limits.severity_order %v: only alerts whose severity label is exactly %q wait", s, c.Limits.SeverityOrder, s)
		}
	}
	switch q.Defer {
	case DeferHold, DeferSendAt:
	default:
		p.add(path+".defer", "%q is neither %s (kept here, sent when the quiet hours end if still firing) nor %s (handed to sipgate now, sent by sipgate then)", q.Defer, DeferHold, DeferSendAt)
	}
	c.checkQuietLength(path, q, p)
}

// checkQuietLength rejects quiet hours that hold without a break for
// longer than MaxQuietHours at some time within GapHorizon of loading,
// naming the first such instant.
func (c *Config) checkQuietLength(path string, q *QuietHours, p *problems) {
	from := c.loadedAt
	if from.IsZero() {
		from = time.Now()
	}
	at, ok := q.Intervals.FirstLongerThan(from, GapHorizon, MaxQuietHours)
	if !ok {
		return
	}
	p.add(path+".time_intervals", "quiet hours from %s on last longer than %s without a break: no SMS may wait that long "+
		"(sipgate schedules at most a month ahead); limit the intervals with times, weekdays or days_of_month",
		at.Format("2006-01-02 15:04 MST"), model.Duration(MaxQuietHours))
}

// timeIntervalsByName are the time_intervals by name, the first of a
// name (checkTimeIntervals reports the others).
func (c *Config) timeIntervalsByName() map[string][]timeinterval.TimeInterval {
	out := map[string][]timeinterval.TimeInterval{}
	for _, ti := range c.TimeIntervals {
		if _, dup := out[ti.Name]; !dup && ti.Name != "" {
			out[ti.Name] = ti.TimeIntervals
		}
	}
	return out
}

// quietLocation is the clock quiet hours are read on: time_zone, or UTC
// when it is not valid (which loadLocation reports).
func (c *Config) quietLocation() *time.Location {
	if c.Location != nil {
		return c.Location
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "" {
		return time.UTC
	}
	return loc
}
