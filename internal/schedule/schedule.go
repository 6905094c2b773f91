// Package schedule computes who is on call at an instant from rotations,
// overrides and a fallback, on a team's wall clock.
//
// A Schedule is data: build it from the config, check it with Validate (or
// Problems), then ask it questions. Every question takes the instant it is
// about; nothing here reads the clock, so the answer for an alert is the
// answer at the instant the caller chose, and tests use fixed instants.
// A Schedule is never changed by its methods and is safe for concurrent
// use as long as nobody writes to it.
//
// # Who is on call
//
// At an instant, the first that applies:
//
//  1. An Override covering the instant (Start <= t < End) puts its contact
//     on call over all layers. Where overrides overlap, the later one in
//     Overrides wins.
//  2. Otherwise the last active layer in Layers wins, so a layer listed
//     later (business hours) covers one listed earlier (24/7). A layer is
//     active from its first hand-off on, at the times its Intervals contain
//     (always, without Intervals). Its member on call is the one whose
//     shift the instant falls in.
//  3. Otherwise nobody is on call and the answer is the Fallback, with
//     Source FromFallback so the caller can log and count it. A schedule
//     whose Fallback is empty answers with no contacts then; FirstGap finds
//     the first such instant, so a config check can reject the schedule.
//
// A layer has nobody before its first hand-off (Layer.Start): it does not
// run backwards from it, and an earlier layer or the fallback answers
// then. To have a rotation in force from the moment a config is loaded,
// give a start in the past; a start months or years ago costs nothing.
//
// # Daylight saving
//
// Hand-offs follow the wall clock of the schedule's zone. A shift of a
// whole number of days (24h, 7d) hands off at the time of day of the
// layer's start on every hand-off day, on both sides of a daylight-saving
// switch: a 09:00 hand-off stays at 09:00, and the shift that spans the
// switch is shorter or longer in elapsed time by as much as the clock moved
// (an hour in most zones). A shift that is not a whole number of days (12h,
// 90m, 36h) is elapsed time: each lasts exactly that long, so its hand-offs
// move on the wall clock at a switch (21:00 and 09:00 become 22:00 and
// 10:00 in spring). When a hand-off's local time does not exist on a day,
// because the clock jumps over it (02:30 on the last Sunday of March in
// Europe/Berlin, where 02:00 becomes 03:00), the hand-off happens at the
// jump, 03:00 local; the next day it is at 02:30 again. When the local time
// exists twice, because the clock is put back (02:30 on the last Sunday of
// October in Europe/Berlin, where 03:00 becomes 02:00), the hand-off happens
// at the first occurrence, 02:30 CEST (00:30 UTC), and the second 02:30 an
// hour later changes nothing. Both are one rule: a hand-off happens at the
// first instant at which the clock shows its time or a later one
// (LocalTime.In). Go's time.Date does not promise either choice, and its
// answer differs between zones east and west of UTC, so it is not used.
// Time intervals are read on the wall clock too: an interval from 02:00 to
// 03:00 is empty on the day the clock jumps over that hour and lasts two
// hours on the day it is put back.
//
// # Bounded work
//
// Who is on call at one instant costs a few operations per layer and
// override, however far the instant is from the layers' starts (no walk
// from the start). Looking for the next or previous change (OnCall's Since
// and Until, NextHandoffs, FirstGap) visits only the instants where
// something can change: hand-offs that give the shift to someone else, the
// starts and ends of overrides, and for layers with Intervals the
// midnights, the start and end minutes of their times and the
// daylight-saving switches of their clock (a handful per day), never
// minute by minute; layers hidden under an active one are skipped. Each
// search stops at a horizon: Horizon for Since and Until, the caller's for
// NextHandoffs and FirstGap. The benchmarks show the costs.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/validation"
)

// Horizon is how far OnCall looks back for Since and ahead for Until, and a
// sensible horizon for NextHandoffs and FirstGap: long enough for a
// monthly rotation's next hand-off, short enough that a look at a schedule
// with time-limited layers stays cheap (a few hundred instants).
const Horizon = 8 * 7 * 24 * time.Hour

// Schedule is one on-call schedule (see the package documentation for who
// is on call when).
type Schedule struct {
	Name string
	// Location is the schedule's clock: layer starts and hand-offs, and
	// intervals without their own location, are read on it. Required.
	Location *time.Location
	// Layers are the rotations, lowest first: a later active layer covers
	// an earlier one.
	Layers []Layer
	// Overrides put one contact on call over all layers for a while.
	Overrides []Override
	// Fallback is who gets paged when nobody is on call: contact or group
	// names, like Members.
	Fallback []string
}

// Override puts Contact on call from Start up to, not including, End.
// The config can read local times on the schedule's clock and turn them
// into instants with LocalTime.In, which applies the daylight-saving rule
// that hand-offs use.
type Override struct {
	Contact    string
	Start, End time.Time
}

// Source says where an answer came from.
type Source string

// The sources of an answer. Their values are what the API and logs show.
const (
	FromLayer    Source = "layer"
	FromOverride Source = "override"
	FromFallback Source = "fallback"
)

// Assignment is who is on call and why.
type Assignment struct {
	// Contacts are contact or group names: one for a layer or an override,
	// the Fallback for FromFallback (none if the Fallback is empty). The
	// slice is the caller's to keep.
	Contacts []string
	Source   Source
	// Layer is the winning layer's Name when Source is FromLayer.
	Layer string
}

// Fallback reports whether nobody was on call, so Contacts is the
// schedule's Fallback: the caller warns and counts.
func (a Assignment) Fallback() bool { return a.Source == FromFallback }

func (a Assignment) equal(b Assignment) bool {
	return a.Source == b.Source && a.Layer == b.Layer && slices.Equal(a.Contacts, b.Contacts)
}

// OnCall is the Assignment at an instant, and how long it holds.
type OnCall struct {
	Assignment
	// Since is when the assignment began: the last hand-off at or before
	// the instant. Zero when it began more than Horizon earlier (or never
	// changed).
	Since time.Time
	// Until is the next hand-off, when the assignment ends. Zero when it
	// holds for at least Horizon after the instant. A caller that keeps a
	// gauge of who is on call can wake at Until.
	Until time.Time
}

// Handoff is a change of who is on call: from At, the Assignment holds.
// Any change of the Assignment counts, so a hand-off from a layer to an
// override for the same person is one: the person stays, the reason
// changes.
type Handoff struct {
	At time.Time
	Assignment
}

// OnCall returns who is on call at the instant at, with the hand-offs
// before and after it (within Horizon). The instants it returns are in the
// schedule's Location. s must be valid (Validate); an invalid schedule
// panics.
func (s *Schedule) OnCall(at time.Time) OnCall {
	p := s.plan()
	cur := p.state(at)
	return OnCall{
		Assignment: cur.Assignment,
		Since:      p.since(at, cur, at.Add(-Horizon)),
		Until:      p.until(at, cur, at.Add(Horizon)),
	}
}

// At returns who is on call at t, without OnCall's search for when that
// began and ends: what paging needs, at the cost of one look at each
// override and layer. s must be valid (Validate).
func (s *Schedule) At(t time.Time) Assignment {
	return s.plan().state(t).Assignment
}

// NextHandoffs returns the next n changes of who is on call after at (not
// at at itself, which OnCall answers), up to at+horizon inclusive, in
// order. It returns fewer when fewer happen within the horizon. s must be
// valid (Validate).
func (s *Schedule) NextHandoffs(at time.Time, n int, horizon time.Duration) []Handoff {
	p := s.plan()
	limit := at.Add(horizon)
	cur := p.state(at)
	var out []Handoff
	t := at
	for len(out) < n {
		c, ok := p.next(t, cur.relevant(len(p.layers)))
		if !ok || c.After(limit) {
			break
		}
		st := p.state(c)
		if !st.Assignment.equal(cur.Assignment) {
			out = append(out, Handoff{At: c.In(p.s.Location), Assignment: st.Assignment})
			cur = st
		}
		t = c
	}
	return out
}

// FirstGap returns the first instant from from to from+horizon (inclusive)
// at which nobody is on call: no override covers it and no layer is active
// (before every layer's first hand-off, or outside all their intervals),
// so the Fallback would be paged. ok is false when there is none. A config
// check uses it to reject a schedule without a fallback and name the
// instant. s must be valid (Validate).
func (s *Schedule) FirstGap(from time.Time, horizon time.Duration) (first time.Time, ok bool) {
	p := s.plan()
	limit := from.Add(horizon)
	every := relevance{from: 0, winner: -1}
	for t := from; !t.After(limit); {
		if p.state(t).Source == FromFallback {
			return t.In(s.Location), true
		}
		c, ok := p.next(t, every)
		if !ok {
			break
		}
		t = c
	}
	return time.Time{}, false
}

// Problems lists everything wrong with s, each with a path relative to the
// schedule in the config's words (time_zone, layers[1].shift,
// overrides[0].end, fallback[2]); the config prefixes its own path. Paths
// into a layer's intervals index Layer.Intervals.
func (s *Schedule) Problems() []validation.Problem {
	var ps problems
	if s.Location == nil {
		ps.add("time_zone", "is required")
	}
	if len(s.Layers) == 0 {
		ps.add("layers", "needs at least one layer")
	}
	names := map[string]bool{}
	for i := range s.Layers {
		l := &s.Layers[i]
		path := fmt.Sprintf("layers[%d]", i)
		switch {
		case l.Name == "":
			ps.add(path+".name", "is required")
		case names[l.Name]:
			ps.add(path+".name", "%q is used by an earlier layer", l.Name)
		}
		names[l.Name] = true
		ps.layer(path, l)
	}
	for i, o := range s.Overrides {
		ps.override(fmt.Sprintf("overrides[%d]", i), o)
	}
	for i, f := range s.Fallback {
		if f == "" {
			ps.add(fmt.Sprintf("fallback[%d]", i), "is empty")
		}
	}
	return ps
}

// problems collects what Problems finds, in the order it finds it.
type problems []validation.Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, validation.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// layer adds the problems of l, found at path, but for its name: whether a
// name is unique takes the other layers.
func (ps *problems) layer(path string, l *Layer) {
	if len(l.Members) == 0 {
		ps.add(path+".members", "needs at least one member")
	}
	for j, m := range l.Members {
		if m == "" {
			ps.add(fmt.Sprintf("%s.members[%d]", path, j), "is empty")
		}
	}
	switch {
	case l.Start.IsZero():
		ps.add(path+".start", "is required")
	case !l.Start.valid():
		ps.add(path+".start", "%s is not a date and time of day", l.Start)
	}
	if l.Shift < time.Second {
		ps.add(path+".shift", "must be at least 1s")
	}
	for j, ti := range l.Intervals {
		ipath := fmt.Sprintf("%s.intervals[%d]", path, j)
		if ti.Location != nil && ti.Location.Location == nil {
			ps.add(ipath+".location", "is empty")
		}
		for k, tr := range ti.Times {
			if tr.StartMinute < 0 || tr.EndMinute > 24*60 || tr.StartMinute >= tr.EndMinute {
				ps.add(fmt.Sprintf("%s.times[%d]", ipath, k), "must be a range within 00:00 to 24:00")
			}
		}
	}
}

// override adds the problems of o, found at path.
func (ps *problems) override(path string, o Override) {
	if o.Contact == "" {
		ps.add(path+".contact", "is required")
	}
	switch {
	case o.Start.IsZero():
		ps.add(path+".start", "is required")
	case o.End.IsZero():
		ps.add(path+".end", "is required")
	case !o.End.After(o.Start):
		ps.add(path+".end", "must be after start")
	}
}

// Validate returns nil if s can be asked questions, and otherwise an error
// with one line per problem (Problems has them one by one).
func (s *Schedule) Validate() error {
	ps := s.Problems()
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = errors.New(p.String())
	}
	if s.Name != "" {
		return fmt.Errorf("schedule %s: %w", s.Name, errors.Join(errs...))
	}
	return errors.Join(errs...)
}

// plan is a Schedule prepared for one question: its layers' arithmetic
// worked out once. It lives as long as the question.
type plan struct {
	s      *Schedule
	layers []planLayer
}

type planLayer struct {
	l     *Layer
	rot   rotation
	edges []edges
}

func (s *Schedule) plan() *plan {
	if s.Location == nil {
		panic("schedule " + s.Name + ": no Location; Validate the schedule before use")
	}
	p := &plan{s: s, layers: make([]planLayer, len(s.Layers))}
	for i := range s.Layers {
		l := &s.Layers[i]
		if len(l.Members) == 0 || l.Shift < time.Second {
			panic(fmt.Sprintf("schedule %s: layers[%d] has no members or a shift under 1s; Validate the schedule before use", s.Name, i))
		}
		pl := planLayer{l: l, rot: newRotation(l, s.Location)}
		for j := range l.Intervals {
			pl.edges = append(pl.edges, newEdges(&l.Intervals[j], s.Location))
		}
		p.layers[i] = pl
	}
	return p
}

// state is an Assignment with the layer that made it, which decides what
// can change it.
type state struct {
	Assignment
	layer    int // index of the winning layer, -1 for an override or the fallback
	override bool
}

// relevance says which edges can change an answer: the activity of layers
// from index from on (the winner and those above it) and the hand-offs of
// the winner; overrides always. Layers below an active winner cannot show
// through it, so their hand-offs and intervals are skipped.
type relevance struct {
	from   int
	winner int
}

func (st state) relevant(layers int) relevance {
	switch {
	case st.override:
		return relevance{from: layers, winner: -1}
	case st.layer >= 0:
		return relevance{from: st.layer, winner: st.layer}
	default:
		return relevance{from: 0, winner: -1}
	}
}

func (p *plan) state(t time.Time) state {
	for i := len(p.s.Overrides) - 1; i >= 0; i-- {
		o := &p.s.Overrides[i]
		if !t.Before(o.Start) && t.Before(o.End) {
			return state{Assignment: Assignment{Contacts: []string{o.Contact}, Source: FromOverride}, layer: -1, override: true}
		}
	}
	for i := len(p.layers) - 1; i >= 0; i-- {
		pl := &p.layers[i]
		if !pl.active(t, p.s.Location) {
			continue
		}
		k, _ := pl.rot.index(t)
		return state{Assignment: Assignment{Contacts: []string{pl.rot.member(k)}, Source: FromLayer, Layer: pl.l.Name}, layer: i}
	}
	return state{Assignment: Assignment{Contacts: slices.Clone(p.s.Fallback), Source: FromFallback}, layer: -1}
}

func (pl *planLayer) active(t time.Time, loc *time.Location) bool {
	if t.Before(pl.rot.first) {
		return false
	}
	if len(pl.l.Intervals) == 0 {
		return true
	}
	for _, ti := range pl.l.Intervals {
		if contains(ti, t, loc) {
			return true
		}
	}
	return false
}

// nextActivity returns the first instant after t at which the layer may
// become active or stop being active.
func (pl *planLayer) nextActivity(t time.Time) (time.Time, bool) {
	if t.Before(pl.rot.first) {
		return pl.rot.first, true
	}
	var best time.Time
	for i := range pl.edges {
		if c := pl.edges[i].next(t); best.IsZero() || c.Before(best) {
			best = c
		}
	}
	return best, !best.IsZero()
}

// prevActivity returns the last instant at or before t at which the layer
// may have become active or stopped being active.
func (pl *planLayer) prevActivity(t time.Time) (time.Time, bool) {
	if t.Before(pl.rot.first) {
		return time.Time{}, false
	}
	best := pl.rot.first
	for i := range pl.edges {
		if c := pl.edges[i].prev(t); c.After(best) {
			best = c
		}
	}
	return best, true
}

// nextMember returns the first hand-off after t that gives the shift to
// someone else.
func (pl *planLayer) nextMember(t time.Time) (time.Time, bool) {
	k, ok := pl.rot.index(t)
	if !ok {
		return pl.rot.first, true
	}
	j, ok := pl.rot.nextChange(k)
	if !ok {
		return time.Time{}, false
	}
	return pl.rot.handoff(j), true
}

// prevMember returns the hand-off at or before t since which the member on
// call at t has been on call without a break.
func (pl *planLayer) prevMember(t time.Time) (time.Time, bool) {
	k, ok := pl.rot.index(t)
	if !ok {
		return time.Time{}, false
	}
	return pl.rot.handoff(pl.rot.runStart(k)), true
}

// next returns the first instant after t at which an edge relevant to r
// lies, and false if there is none.
func (p *plan) next(t time.Time, r relevance) (time.Time, bool) {
	return p.nearest(t, r, (*planLayer).nextActivity, (*planLayer).nextMember,
		func(c time.Time) bool { return c.After(t) }, time.Time.Before)
}

// prev returns the last instant at or before t at which an edge relevant
// to r lies, and false if there is none.
func (p *plan) prev(t time.Time, r relevance) (time.Time, bool) {
	return p.nearest(t, r, (*planLayer).prevActivity, (*planLayer).prevMember,
		func(c time.Time) bool { return !c.After(t) }, time.Time.After)
}

// nearest returns the edge relevant to r nearest to t on one side of it,
// and false if there is none. The edges are both ends of every override,
// the activity edges of the layers from r.from on and the winner's
// hand-offs, as activity and member find them on that side; of those that
// onSide accepts, it returns the one no other is nearer than. next and prev
// differ only in these arguments, so that until and since agree.
func (p *plan) nearest(t time.Time, r relevance, activity, member func(*planLayer, time.Time) (time.Time, bool),
	onSide func(c time.Time) bool, nearer func(c, best time.Time) bool) (best time.Time, found bool) {
	consider := func(c time.Time, ok bool) {
		if ok && onSide(c) && (!found || nearer(c, best)) {
			best, found = c, true
		}
	}
	for _, o := range p.s.Overrides {
		consider(o.Start, true)
		consider(o.End, true)
	}
	for i := r.from; i < len(p.layers); i++ {
		consider(activity(&p.layers[i], t))
	}
	if r.winner >= 0 {
		consider(member(&p.layers[r.winner], t))
	}
	return best, found
}

// until returns the first instant after at, up to limit, at which the
// answer differs from cur; zero if there is none.
func (p *plan) until(at time.Time, cur state, limit time.Time) time.Time {
	r := cur.relevant(len(p.layers))
	for t := at; ; {
		c, ok := p.next(t, r)
		if !ok || c.After(limit) {
			return time.Time{}
		}
		if !p.state(c).Assignment.equal(cur.Assignment) {
			return c.In(p.s.Location)
		}
		t = c
	}
}

// since returns the instant, back to limit, from which the answer has been
// cur without a break up to at; zero if it was already cur at limit.
// Edges are instants where the answer may change, so the answer just
// before an edge is the answer anywhere between it and the edge before.
func (p *plan) since(at time.Time, cur state, limit time.Time) time.Time {
	r := cur.relevant(len(p.layers))
	for t := at; ; {
		c, ok := p.prev(t, r)
		if !ok || c.Before(limit) {
			return time.Time{}
		}
		before := c.Add(-time.Nanosecond)
		if !p.state(before).Assignment.equal(cur.Assignment) {
			return c.In(p.s.Location)
		}
		t = before
	}
}
