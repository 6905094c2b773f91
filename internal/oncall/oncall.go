// Package oncall tells who is on call in the schedules of a config, and
// who comes next: for GET /api/v1/oncall, the oncall command and the
// alertmanager_sipgate_oncall gauge. It names people by their contact
// names, never by their numbers.
package oncall

import (
	"fmt"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/schedule"
)

// Handoffs is how many of the next hand-offs a listing shows per
// schedule, each within schedule.Horizon.
const Handoffs = 5

// Listing is who is on call in each schedule at one instant.
type Listing struct {
	At        time.Time  `json:"at"`
	Schedules []Schedule `json:"schedules"`
}

// Schedule is one schedule's part of a Listing. Times are on its clock.
type Schedule struct {
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	// Location is TimeZone as the config loaded it, for showing the times
	// on the schedule's clock.
	Location *time.Location `json:"-"`
	// OnCall is who is on call at the listing's instant.
	OnCall Shift `json:"on_call"`
	// Next are the next changes of who is on call, at most Handoffs,
	// within schedule.Horizon.
	Next []Shift `json:"next_handoffs"`
}

// Shift is who is on call from one hand-off to the next, and why.
type Shift struct {
	// Members are as the schedule names them: contacts or groups.
	Members []string `json:"members"`
	// Contacts are the contacts paged, groups expanded: whom an SMS
	// reaches. Empty when nobody is on call and there is no fallback.
	Contacts []string `json:"contacts"`
	// Source is layer, override or fallback (nobody is on call).
	Source schedule.Source `json:"source"`
	// Layer names the layer when Source is layer.
	Layer string `json:"layer,omitempty"`
	// Since is when the shift begins (or began); nil when that was more
	// than schedule.Horizon before the listing's instant.
	Since *time.Time `json:"since,omitempty"`
	// Until is the next hand-off; nil when none comes within
	// schedule.Horizon.
	Until *time.Time `json:"until,omitempty"`
}

// UnknownScheduleError is the answer to a listing of a schedule that the
// config does not have.
type UnknownScheduleError struct{ Name string }

func (e *UnknownScheduleError) Error() string {
	return fmt.Sprintf("unknown schedule %q", e.Name)
}

// List returns who is on call at the instant at in every schedule of c, by
// name, or only in the schedule only when it is not empty.
func List(c *config.Config, at time.Time, only string) (Listing, error) {
	names := c.ScheduleNames()
	if only != "" {
		if _, ok := c.OnCallAt(only, at); !ok {
			return Listing{}, &UnknownScheduleError{Name: only}
		}
		names = []string{only}
	}
	l := Listing{At: at, Schedules: make([]Schedule, 0, len(names))}
	for _, name := range names {
		l.Schedules = append(l.Schedules, list(c, name, at))
	}
	return l, nil
}

func list(c *config.Config, name string, at time.Time) Schedule {
	s := c.Schedules[name]
	rot := s.Rotation
	now := rot.OnCall(at)
	out := Schedule{Name: name, TimeZone: s.TimeZone, Location: rot.Location, OnCall: shift(c, now.Assignment), Next: []Shift{}}
	out.OnCall.Since, out.OnCall.Until = timePtr(now.Since), timePtr(now.Until)
	next := rot.NextHandoffs(at, Handoffs, schedule.Horizon)
	for i, h := range next {
		sh := shift(c, h.Assignment)
		sh.Since = timePtr(h.At)
		if i+1 < len(next) {
			sh.Until = timePtr(next[i+1].At)
		} else {
			sh.Until = timePtr(rot.OnCall(h.At).Until)
		}
		out.Next = append(out.Next, sh)
	}
	return out
}

// shift is an assignment with its contacts' names.
func shift(c *config.Config, a schedule.Assignment) Shift {
	sh := Shift{Members: a.Contacts, Contacts: []string{}, Source: a.Source, Layer: a.Layer}
	if sh.Members == nil {
		sh.Members = []string{}
	}
	for _, r := range c.Expand(a.Contacts) {
		sh.Contacts = append(sh.Contacts, r.Name)
	}
	return sh
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
