package config

import (
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/schedule"
)

// GapHorizon is how far ahead of the time of loading a schedule without a
// fallback is checked for an instant when nobody is on call: a year and a
// day, so that a layer limited to certain months, days of the month or
// years is caught before the last of its times passes, not only weekly
// ones. Each reload checks again from its own time.
const GapHorizon = 366 * 24 * time.Hour

// Schedule is an on-call schedule as the config writes it: rotations
// (layers), overrides and a fallback, on the clock of TimeZone. A route
// pages it by name like a contact or group, and reaches whoever is on
// call when the notification arrives; package schedule says who that is.
type Schedule struct {
	// TimeZone is the IANA name of the team's clock (Europe/Berlin):
	// layer starts, override times and time intervals without their own
	// location are read on it. Required: the host's zone says nothing
	// about when a team hands over.
	TimeZone string `yaml:"time_zone"`
	// Layers are the rotations, lowest first: where several are active,
	// the later one wins (a business-hours layer over a 24/7 one).
	Layers []Layer `yaml:"layers"`
	// Overrides put one contact (or group) on call for a while over all
	// layers: a holiday, a swap.
	Overrides []Override `yaml:"overrides,omitempty"`
	// Fallback is paged when nobody is on call: contacts or groups.
	// Required when a layer can leave a gap within GapHorizon.
	Fallback []string `yaml:"fallback,omitempty"`

	// Rotation is the schedule built from the fields above at load: whom
	// it pages at an instant. Its Location is TimeZone loaded.
	Rotation *schedule.Schedule `yaml:"-"`
}

// Layer is one rotation of a schedule.
type Layer struct {
	// Name tells the layers apart in /api/v1/oncall; layers[N] unless set.
	Name string `yaml:"name"`
	// Members take turns in order: contacts or groups (a group's members
	// are all paged during its shift). A name may appear twice.
	Members []string `yaml:"members"`
	// Start is the first hand-off, a local date and time on the
	// schedule's clock without a zone: "2024-01-01 09:00". Members[0]'s
	// shift begins then; before it the layer has nobody.
	Start string `yaml:"start"`
	// Shift is how long each member is on call. A whole number of days
	// (1d, 1w) hands off at Start's time of day on the wall clock,
	// whatever daylight saving does; anything else is elapsed time.
	Shift model.Duration `yaml:"shift"`
	// ActiveTimeIntervals, when set, limit the layer to the times of
	// these named time_intervals, as a route's active_time_intervals do
	// in alertmanager.yml. An interval without a location is read on the
	// schedule's clock.
	ActiveTimeIntervals []string `yaml:"active_time_intervals,omitempty"`
}

// Override puts Contact on call from Start up to, not including, End,
// both local dates and times on the schedule's clock.
type Override struct {
	Contact string `yaml:"contact"`
	Start   string `yaml:"start"`
	End     string `yaml:"end"`
}

// TimeInterval is a named list of time intervals in alertmanager.yml's
// syntax (times, weekdays, days_of_month, months, years, location),
// parsed by Alertmanager's own package.
type TimeInterval struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

// OnCall is whom a schedule pages at an instant.
type OnCall struct {
	schedule.Assignment
	// Recipients are the numbers of Contacts, groups expanded, each
	// number once; empty when nobody is on call and there is no fallback.
	Recipients []Recipient
}

// OnCallAt returns whom the schedule name pages at the instant at, and
// false when the config has no such schedule.
func (c *Config) OnCallAt(name string, at time.Time) (OnCall, bool) {
	s := c.Schedules[name]
	if s == nil || s.Rotation == nil {
		return OnCall{}, false
	}
	a := s.Rotation.At(at)
	return OnCall{Assignment: a, Recipients: c.Expand(a.Contacts)}, true
}

// Expand returns the contacts of names (contacts or groups, as a
// schedule's answers hold them), each number once, in order.
func (c *Config) Expand(names []string) []Recipient {
	var out []Recipient
	seen := map[string]bool{}
	add := func(name string) {
		if contact, ok := c.Contacts[name]; ok && !seen[contact.Number] {
			seen[contact.Number] = true
			out = append(out, Recipient{Name: name, Number: contact.Number})
		}
	}
	for _, name := range names {
		if members, ok := c.Groups[name]; ok {
			for _, m := range members {
				add(m)
			}
			continue
		}
		add(name)
	}
	return out
}

// ScheduleNames are the names of the config's schedules, sorted.
func (c *Config) ScheduleNames() []string { return sortedKeys(c.Schedules) }

// checkTimeIntervals checks the time_intervals section and returns the
// intervals by name.
func (c *Config) checkTimeIntervals(p *problems) map[string][]timeinterval.TimeInterval {
	byName := map[string][]timeinterval.TimeInterval{}
	for i, ti := range c.TimeIntervals {
		path := fmt.Sprintf("time_intervals[%d]", i)
		switch _, dup := byName[ti.Name]; {
		case ti.Name == "":
			p.add(path+".name", "is required")
		case dup:
			p.add(path+".name", "%q is used by an earlier time interval", ti.Name)
		default:
			byName[ti.Name] = ti.TimeIntervals
		}
		if len(ti.TimeIntervals) == 0 {
			// Alertmanager reads an empty list as never; a layer without
			// intervals is active always: neither is what was meant.
			p.add(path+".time_intervals", "needs at least one interval (times, weekdays, days_of_month, months, years)")
		}
	}
	return byName
}

// checkSchedules checks the schedules and builds each one's Rotation. A
// schedule's name must be no contact's or group's: a route's to: names
// all three alike.
func (c *Config) checkSchedules(p *problems) {
	intervals := c.checkTimeIntervals(p)
	for _, name := range sortedKeys(c.Schedules) {
		path := "schedules." + name
		s := c.Schedules[name]
		if _, ok := c.Contacts[name]; ok {
			p.add(path, "%q is already a contact's name: contacts, groups and schedules share one name space", name)
		}
		if _, ok := c.Groups[name]; ok {
			p.add(path, "%q is already a group's name: contacts, groups and schedules share one name space", name)
		}
		if s == nil {
			p.add(path, "is empty: a schedule needs time_zone and layers")
			continue
		}
		s.Rotation = nil
		if rot := c.buildSchedule(name, path, s, intervals, p); rot != nil {
			c.checkGap(path, s, rot, p)
			s.Rotation = rot
		}
	}
}

// buildSchedule turns s into the schedule package's terms, and returns nil
// when it has problems, each added to p.
func (c *Config) buildSchedule(name, path string, s *Schedule, intervals map[string][]timeinterval.TimeInterval, p *problems) *schedule.Schedule {
	var local pathProblems
	rot := &schedule.Schedule{Name: name, Location: c.scheduleLocation(path, s.TimeZone, &local), Fallback: s.Fallback}
	for i := range s.Layers {
		rot.Layers = append(rot.Layers, c.buildLayer(fmt.Sprintf("%s.layers[%d]", path, i), i, &s.Layers[i], intervals, &local))
	}
	// Without a valid zone (reported already) UTC still lets the schedule
	// package check the rest of the overrides.
	loc := rot.Location
	if loc == nil {
		loc = time.UTC
	}
	for i, o := range s.Overrides {
		opath := fmt.Sprintf("%s.overrides[%d]", path, i)
		c.checkPerson(opath+".contact", o.Contact, &local)
		start, end := parseLocal(opath+".start", o.Start, &local), parseLocal(opath+".end", o.End, &local)
		ov := schedule.Override{Contact: o.Contact}
		if !start.IsZero() {
			ov.Start = start.In(loc)
		}
		if !end.IsZero() {
			ov.End = end.In(loc)
		}
		rot.Overrides = append(rot.Overrides, ov)
	}
	c.checkMembers(path+".fallback", s.Fallback, &local)
	reported := map[string]bool{}
	for _, pr := range local {
		reported[pr.path] = true
	}
	for _, pr := range rot.Problems() {
		// What the config found first says it better: "start: local time
		// "2024-02-30 09:00": day out of range", not "start: is required".
		if full := path + "." + pr.Path; !reported[full] {
			local.add(full, "%s", pr.Message)
		}
	}
	*p = append(*p, local.lines()...)
	if len(local) > 0 {
		return nil
	}
	return rot
}

// buildLayer is buildSchedule for the layer i of a schedule, at path. It
// names a layer without a name after its place.
func (c *Config) buildLayer(path string, i int, l *Layer, intervals map[string][]timeinterval.TimeInterval, p *pathProblems) schedule.Layer {
	if l.Name == "" {
		l.Name = fmt.Sprintf("layers[%d]", i)
	}
	c.checkMembers(path+".members", l.Members, p)
	layer := schedule.Layer{Name: l.Name, Members: l.Members, Shift: time.Duration(l.Shift), Start: parseLocal(path+".start", l.Start, p)}
	for j, name := range l.ActiveTimeIntervals {
		found, ok := intervals[name]
		if !ok {
			p.add(fmt.Sprintf("%s.active_time_intervals[%d]", path, j), "unknown time interval %q%s", name, suggest(name, sortedKeys(intervals)))
		}
		layer.Intervals = append(layer.Intervals, found...)
	}
	return layer
}

// scheduleLocation loads a schedule's time_zone, or says what is wrong.
func (c *Config) scheduleLocation(path, zone string, p *pathProblems) *time.Location {
	switch zone {
	case "":
		p.add(path+".time_zone", "is required: the IANA name of the team's clock, such as Europe/Berlin")
		return nil
	case "Local":
		p.add(path+".time_zone", "\"Local\" is the host's zone, which says nothing about the team's clock: name it, such as Europe/Berlin")
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		p.add(path+".time_zone", "%q is not a known IANA time zone (such as UTC or Europe/Berlin)", zone)
		return nil
	}
	return loc
}

// checkMembers checks that every name is a contact or a group (checkPerson).
func (c *Config) checkMembers(path string, names []string, p *pathProblems) {
	for i, name := range names {
		c.checkPerson(fmt.Sprintf("%s[%d]", path, i), name, p)
	}
}

// checkPerson checks that name is a contact or a group: a schedule pages
// people, and its answers name them on /api/v1/oncall and in the oncall
// gauge. Numbers and other schedules are not allowed.
func (c *Config) checkPerson(path, name string, p *pathProblems) {
	_, contact := c.Contacts[name]
	_, group := c.Groups[name]
	switch {
	case contact || group:
	case name == "":
		// The schedule package's Problems say so.
	case c.Schedules[name] != nil:
		p.add(path, "%q is a schedule: a schedule's members, overrides and fallback are contacts or groups", name)
	default:
		known := append(sortedKeys(c.Contacts), sortedKeys(c.Groups)...)
		p.add(path, "unknown contact or group %q%s", name, suggest(name, known))
	}
}

// checkGap rejects a schedule without a fallback that leaves nobody on
// call at some instant within GapHorizon of the time of loading, naming
// the first such instant on the schedule's clock.
func (c *Config) checkGap(path string, s *Schedule, rot *schedule.Schedule, p *problems) {
	if len(s.Fallback) > 0 {
		return
	}
	from := c.loadedAt
	if from.IsZero() {
		from = time.Now()
	}
	gap, ok := rot.FirstGap(from, GapHorizon)
	if !ok {
		return
	}
	p.add(path+".fallback", "is required: nobody is on call at %s (%s), before every layer's start or outside all their "+
		"active_time_intervals; add fallback: [contact or group] to page then, or a layer that covers that time",
		gap.Format("2006-01-02 15:04:05 MST"), s.TimeZone)
}

// parseLocal reads a local date and time, or says what is wrong and
// returns the zero LocalTime.
func parseLocal(path, s string, p *pathProblems) schedule.LocalTime {
	if s == "" {
		p.add(path, "is required: a local date and time such as \"2024-01-01 09:00\"")
		return schedule.LocalTime{}
	}
	l, err := schedule.ParseLocalTime(s)
	if err != nil {
		p.add(path, "%v", err)
		return schedule.LocalTime{}
	}
	return l
}

// pathProblems are problems kept apart from the rest for a while, with
// their paths, so that the schedule package's checks can skip a field the
// config has already complained about.
type pathProblems []struct{ path, line string }

func (pp *pathProblems) add(path, format string, args ...any) {
	var one problems
	one.add(path, format, args...)
	*pp = append(*pp, struct{ path, line string }{path, one[0]})
}

func (pp pathProblems) lines() []string {
	out := make([]string, len(pp))
	for i, pr := range pp {
		out[i] = pr.line
	}
	return out
}
