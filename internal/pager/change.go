package pager

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// reasonRepeat is Alertmanager's notification_reason (v0.32 and later)
// of a group sent again unchanged because its repeat_interval elapsed.
const reasonRepeat = "repeat interval elapsed"

// class is what an alert of an SMS is to its recipient.
type class uint8

const (
	classNew         class = iota // firing, not paged to them before
	classStillFiring              // firing, paged to them before
	classResolved                 // resolved, to be told
	// classLate: firing, but they were told it resolved and it does not
	// fire again for them (see withoutLate): in the SMS's key, not in its
	// text or paged marks (see draft.shown).
	classLate
)

// told is what the ledger says the firing SMS of the notification's
// alerts reached: per alert id, whom and when, and whom an SMS told since
// that the alert resolved.
type told struct {
	marks map[string][]ledger.PagedRecipient
	// firings are the notification's alerts as the marks know them, in
	// its order: their ids are made once.
	firings []ledger.Firing
	// group holds the firing alerts of the notification whose last word
	// from its group was resolved (see refired).
	group map[string]ledger.GroupResolved
	// sender, now and window: a resolved word from the group's other
	// Alertmanager within the dedup window may be followed by a late copy
	// of a notification sent before it.
	sender string
	now    time.Time
	window time.Duration
}

// mark returns number's mark of the alert, if the ledger has one.
func (t told) mark(number, id string) (ledger.PagedRecipient, bool) {
	for _, r := range t.marks[id] {
		if r.Number == number {
			return r, true
		}
	}
	return ledger.PagedRecipient{}, false
}

// pagedAt returns when the firing SMS of the alert reached number, and
// whether it did within the paged retention and the alert has not fired
// again since for them (see refired).
func (t told) pagedAt(number, id string) (time.Time, bool) {
	r, ok := t.mark(number, id)
	return r.At, ok && !t.refired(id, r)
}

// toldResolved reports whether an SMS told number that the alert
// resolved, after its firing SMS reached them.
func (t told) toldResolved(number, id string) bool {
	r, ok := t.mark(number, id)
	return ok && !r.Resolved.IsZero()
}

// toldResolvedTo reports whether an SMS told number that any of the
// notification's alerts resolved.
func (t told) toldResolvedTo(number string) bool {
	for _, marks := range t.marks {
		for _, r := range marks {
			if r.Number == number && !r.Resolved.IsZero() {
				return true
			}
		}
	}
	return false
}

// refired reports whether the firing alert id, whose mark for its
// recipient is r, fires again for them in this notification, after an
// SMS told them it resolved: Alertmanager resolves an alert whose source
// went quiet, and the source sends it again as it was, with its old
// start. A firing notification that comes the dedup window or longer
// after they were told is that: a retry or copy of one sent before the
// resolved one comes sooner (Alertmanager retries for a group_interval).
// Sooner, it is that only when the group said the alert resolved since
// their page, from this Alertmanager: another group's firing notification,
// or this group's retry from before its resolved one, tells them nothing
// new; one from its HA peer is unsure.
func (t told) refired(id string, r ledger.PagedRecipient) bool {
	if r.Resolved.IsZero() {
		return false
	}
	if t.now.Sub(r.Resolved) >= t.window {
		return true
	}
	g, ok := t.saidResolved(id, r)
	return ok && g.By == t.sender
}

// unsure reports whether the firing alert id, whose mark for its
// recipient is r, may fire again or be a late copy: the group's other
// Alertmanager said it resolved within the dedup window. Alertmanager is
// asked to send it again; after the window it is sure.
func (t told) unsure(id string, r ledger.PagedRecipient) bool {
	_, ok := t.saidResolved(id, r)
	return ok && !t.refired(id, r)
}

// saidResolved returns the group's resolved word on the alert id, when
// the recipient whose mark is r was told it resolved and the group said
// so after their page: an older word belongs to an earlier round.
func (t told) saidResolved(id string, r ledger.PagedRecipient) (ledger.GroupResolved, bool) {
	g, ok := t.group[id]
	return g, ok && !r.Resolved.IsZero() && g.At.After(r.At)
}

// toldOf asks the ledger whom the firing SMS of each alert of n reached,
// and, of those an SMS told since that they resolved, which its group
// last said resolved.
func (p *Pager) toldOf(n *notification.Notification, now time.Time) (told, error) {
	alerts := make([]ledger.Firing, len(n.Alerts))
	group := repeatGroup(n)
	for i, a := range n.Alerts {
		alerts[i] = firing(a, group)
	}
	// An alert given twice, which is rare, is merely looked up twice:
	// sorting a storm's ids to drop it cost more than all the lookups.
	paged, err := p.paged.PagedTo(alerts)
	if err != nil {
		return told{}, fmt.Errorf("what the alerts' recipients were told before: %w", err)
	}
	t := told{marks: paged, firings: alerts, sender: sender(n), now: now, window: time.Duration(p.config.Delivery.DedupWindow)}
	var again []string
	if len(paged) > 0 { // else nobody was paged about any of them, as in a storm
		for i, a := range n.Alerts {
			if a.Status != "resolved" && slices.ContainsFunc(paged[alerts[i].ID], func(r ledger.PagedRecipient) bool { return !r.Resolved.IsZero() }) {
				again = append(again, alerts[i].ID)
			}
		}
	}
	if len(again) > 0 {
		if t.group, err = p.paged.ResolvedIn(repeatGroup(n), again); err != nil {
			return told{}, fmt.Errorf("what the group said of the alerts before: %w", err)
		}
	}
	return t, nil
}

// noteGroup notes what n's group said of its alerts (see refired): those
// resolved, whose RESOLVED SMS may have gone out whatever n is answered,
// and, once n was answered with success (answered), those firing again
// after it said they resolved; until then the retry must read that word
// as it was, its refire SMS being unsent. Answered, it also lets the
// ledger forget the resolved firings as their group's last paged ones
// (see ledger.NoteGroup).
func (p *Pager) noteGroup(n *notification.Notification, t told, answered bool) error {
	var resolved []ledger.Firing
	var firing []string
	for i, a := range n.Alerts {
		id := t.firings[i].ID
		switch {
		case a.Status == "resolved":
			// Of an alert nobody was paged about, nobody is told it
			// resolved: there is no refire to tell.
			if len(t.marks[id]) > 0 {
				resolved = append(resolved, t.firings[i])
			}
		case answered && len(t.group) > 0:
			if _, ok := t.group[id]; ok {
				firing = append(firing, id)
			}
		}
	}
	if err := p.paged.NoteGroup(repeatGroup(n), sender(n), resolved, firing, answered); err != nil {
		return fmt.Errorf("note what the group said: %w", err)
	}
	return nil
}

// repeatCycle tells one repeat of a group by Alertmanager from the next:
// the SMS of a repeat have a ledger key of their own, which a retry of
// the same repeat shares and the next repeat does not.
type repeatCycle struct {
	// group is the group's key in the ledger's repeats.
	group string
	// since is the ledger key's part of this repeat.
	since string
}

// repeatOf returns the repeat cycle of n when Alertmanager sent it as a
// repeat, else nil. A repeat answered with success before starts a new
// cycle: Alertmanager repeats only after it logged a success. A repeat
// from another Alertmanager than the one answered last, within the dedup
// window of that answer, is the HA peer's copy of the same repeat.
func (p *Pager) repeatOf(n *notification.Notification, now time.Time) (*repeatCycle, error) {
	if n.NotificationReason != reasonRepeat {
		return nil, nil
	}
	group := repeatGroup(n)
	last, err := p.paged.LastRepeat(group)
	if err != nil {
		return nil, fmt.Errorf("the group's last repeat: %w", err)
	}
	since := last.At
	if last.By != sender(n) && now.Sub(last.At) < time.Duration(p.config.Delivery.DedupWindow) {
		since = last.Previous
	}
	c := &repeatCycle{group: group, since: "0"}
	if !since.IsZero() {
		c.since = strconv.FormatInt(since.UnixNano(), 10)
	}
	return c, nil
}

// sender tells the Alertmanager that sent n from its HA peers, for the
// ledger's repeats: a hash of its externalURL, which the payload carries
// at any length.
func sender(n *notification.Notification) string {
	sum := sha256.Sum256([]byte(n.ExternalURL))
	return hex.EncodeToString(sum[:8])
}

// repeatGroup is the group's key in the ledger's repeats: a hash of its
// group key and receiver. Alertmanager's group key holds the group's
// labels, and can be longer than a ledger key may be (32 KiB).
func repeatGroup(n *notification.Notification) string {
	sum := sha256.Sum256([]byte(n.GroupKey + "\x00" + n.Receiver))
	return hex.EncodeToString(sum[:])
}

// classify says what each alert of an SMS to number is to them: new,
// still firing, or resolved.
func classify(number string, alerts template.Alerts, t told) []class {
	classes := make([]class, len(alerts))
	for i, a := range alerts {
		switch {
		case a.Status == "resolved":
			classes[i] = classResolved
		case len(t.marks) == 0:
			// Nobody was paged about any of them, as in a storm of new
			// alerts: no id to make.
		default:
			if _, ok := t.pagedAt(number, alertID(a)); ok {
				classes[i] = classStillFiring
			}
		}
	}
	return classes
}

// news reports whether an SMS of these classes tells its recipient
// anything they were not told: an alert that is new to them, or one that
// resolved.
func news(classes []class) bool {
	for _, c := range classes {
		if c != classStillFiring && c != classLate {
			return true
		}
	}
	return false
}

// lastPaged is when the recipient was last paged about the alerts.
func lastPaged(number string, alerts template.Alerts, t told) time.Time {
	var last time.Time
	for _, a := range alerts {
		if at, ok := t.pagedAt(number, alertID(a)); ok && at.After(last) {
			last = at
		}
	}
	return last
}

// change is what a template is told of the alerts of an SMS, which are
// the (sanitized) alerts the classes were taken of, in the same order.
func (p *Pager) change(alerts template.Alerts, classes []class, repeat bool, now time.Time) templates.Change {
	c := templates.Change{Repeat: repeat, Now: now, TimeZone: p.config.Location}
	var counts [classResolved + 1]int
	for i, a := range alerts {
		counts[classes[i]]++
		if classes[i] != classResolved && (c.FiringSince.IsZero() || a.StartsAt.Before(c.FiringSince)) {
			c.FiringSince = a.StartsAt
		}
	}
	lists := [...]*template.Alerts{classNew: &c.New, classStillFiring: &c.StillFiring, classResolved: &c.Resolved}
	for k, n := range counts {
		switch n {
		case 0:
		case len(alerts):
			// All of one class, as in a storm of new alerts: the alerts
			// themselves, not a copy of thousands.
			*lists[k] = alerts[:n:n]
		default:
			*lists[k] = make(template.Alerts, 0, n)
		}
	}
	if counts[classNew] == len(alerts) || counts[classStillFiring] == len(alerts) || counts[classResolved] == len(alerts) {
		return c
	}
	for i, a := range alerts {
		*lists[classes[i]] = append(*lists[classes[i]], a)
	}
	return c
}
