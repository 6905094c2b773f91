// Package pager turns a notification into the SMS each recipient gets and
// hands them to delivery: the one place where routing, templates and
// delivery meet.
package pager

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/templates"
)

// renderer renders SMS texts; *templates.Engine is the real one.
type renderer interface {
	RenderSMS(ctx context.Context, text string, data *templates.Data, b sms.Budget) (sms.Result, error)
}

// Deliverer sends the messages of one notification.
type Deliverer interface {
	Deliver(ctx context.Context, b delivery.Batch) error
}

// PagedLedger knows whom the firing SMS of each alert reached;
// *ledger.Ledger is the real one.
type PagedLedger interface {
	// PagedTo returns, per alert id, whom its firing SMS reached lately.
	PagedTo(alerts []ledger.Firing) (map[string][]ledger.PagedRecipient, error)
	// LastRepeat returns the last repeat of a group that Alertmanager
	// was answered with success, and RecordRepeat notes one.
	LastRepeat(group string) (ledger.Repeat, error)
	RecordRepeat(group, by string) error
	// ResolvedIn returns, of the alerts, those whose group's last word
	// was resolved, and NoteGroup notes a group's words (see
	// Pager.noteGroup).
	ResolvedIn(group string, alerts []string) (map[string]ledger.GroupResolved, error)
	NoteGroup(group, by string, resolved []ledger.Firing, firingAgain []string, answered bool) error
	// HeldLedger keeps what quiet hours hold.
	HeldLedger
}

// Pager implements receiver.Notifier for one immutable config; a reload
// makes a new Pager.
type Pager struct {
	config    *config.Config
	engine    renderer
	deliverer Deliverer
	paged     PagedLedger
	metrics   *metrics.Metrics
	logger    *slog.Logger
	severity  map[string]int
	limits    delivery.Limits
	// receivers are the receiver names the routes match on: the values
	// of the receiver label of alerts_unrouted_total besides
	// metrics.OtherReceiver.
	receivers map[string]bool
	// quiet is set when a route has quiet hours, bypass when a route
	// bypasses the limits.
	quiet, bypass bool
	// now is the clock of the notifications' arrival, for repeats and
	// for how long alerts have fired.
	now func() time.Time
}

// New returns a Pager for the config, with the template engine of its
// templates. It fails only when the template files changed since the
// config was checked.
func New(c *config.Config, d Deliverer, paged PagedLedger, m *metrics.Metrics, l *slog.Logger) (*Pager, error) {
	engine, err := templates.New(c.TemplateFiles())
	if err != nil {
		return nil, fmt.Errorf("%s: templates: %w", c.File, err)
	}
	severity := map[string]int{}
	for i, s := range c.Limits.SeverityOrder {
		severity[s] = i
	}
	limits := delivery.Limits{Budget: ledger.Window{Max: c.Limits.Budget.Max, Per: time.Duration(c.Limits.Budget.Per)}}
	for _, w := range c.Limits.PerRecipient {
		limits.PerRecipient = append(limits.PerRecipient, ledger.Window{Max: w.Max, Per: time.Duration(w.Per)})
	}
	receivers := map[string]bool{}
	quiet, bypass := false, false
	for _, r := range c.Routes {
		if r.Receiver != "" {
			receivers[r.Receiver] = true
		}
		quiet = quiet || r.QuietHours != nil
		bypass = bypass || r.BypassLimits
	}
	if c.Unmatched != nil && c.Unmatched.Route != nil {
		quiet = quiet || c.Unmatched.Route.QuietHours != nil
		bypass = bypass || c.Unmatched.Route.BypassLimits
	}
	return &Pager{config: c, engine: engine, deliverer: d, paged: paged, metrics: m, logger: l, severity: severity, limits: limits, receivers: receivers, quiet: quiet, bypass: bypass, now: time.Now}, nil
}

// Limits are the flood limits of the config, for the digests.
func (p *Pager) Limits() delivery.Limits { return p.limits }

// Notify routes, renders and delivers the notification. Routing and
// rendering stop when ctx ends, as when Alertmanager hangs up; once the
// sends begin they go on until ctx's deadline whatever the caller does, so
// that what was sent is recorded and a retry is answered from the ledger
// instead of paging twice. What quiet hours defer is held in the ledger,
// or handed to delivery to be sent later (see deferQuiet), and answered
// as success: Alertmanager must not send it again. Alerts that no route
// takes and a pinned route that cannot be followed are reported, never an
// error: an error makes Alertmanager send the whole notification again,
// or drop it, pages of the routed alerts included.
func (p *Pager) Notify(ctx context.Context, n *notification.Notification, pinned string) error {
	now := p.now()
	routed := route.Pages(p.config, n.Data, pinned, receivedAt(n))
	p.report(n, pinned, routed)
	p.reportFallbacks(n, routed)
	// Held SMS are cancelled before the paged marks are read: a held SMS
	// released meanwhile has written its marks by then.
	held, err := p.cancelHeld(n)
	if err != nil {
		return err
	}
	told, err := p.toldOf(n, now)
	if err != nil {
		return err
	}
	cycle, err := p.repeatOf(n, now)
	if err != nil {
		return err
	}
	routes := p.alertRoutes(routed.Pages)
	pages := held.withhold(p.recipients(n, routed.Pages, told, routes), told, routes, now)
	drafts, err := p.deferQuiet(n, p.plan(n, pages, told, cycle, routes, now), now)
	if err != nil {
		return err
	}
	msgs, err := p.renderAll(ctx, n, drafts)
	if err != nil {
		return err
	}
	sendCtx := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(sendCtx, deadline)
		defer cancel()
	}
	err = p.deliverer.Deliver(sendCtx, delivery.Batch{ID: n.ID, Limits: p.limits, ExternalURL: n.ExternalURL, Messages: msgs})
	if err == nil {
		// The rest went out; the retry finds it delivered.
		err = held.inDoubtErr()
	}
	if err == nil && told.unsureOf(pages) {
		// The rest went out; once the dedup window passed, the retry
		// finds whether the alert fires again.
		p.logger.Warn("firing alerts that the group's other Alertmanager said resolved within the dedup window: a late copy, or firing again; answered 503, decided when it comes after the window",
			"notification", n.ID)
		err = errFiringAgainUnsure
	}
	// The group said what it said, however it was answered: its resolved
	// SMS may have gone out (see noteGroup).
	if nerr := p.noteGroup(n, told, err == nil); err == nil {
		err = nerr
	}
	if err != nil {
		return err
	}
	if cycle != nil {
		if ctx.Err() != nil {
			// Alertmanager hung up, or its deadline passed: it sends
			// the repeat again, which must be this cycle's, finding
			// its SMS delivered, not start the next one.
			return fmt.Errorf("the repeat's sms went out, but nobody may hear the answer: %w", context.Cause(ctx))
		}
		if err := p.paged.RecordRepeat(cycle.group, sender(n)); err != nil {
			return fmt.Errorf("note the repeat as answered: %w", err)
		}
	}
	return nil
}

// errFiringAgainUnsure asks Alertmanager for a notification again: see
// told.unsure.
var errFiringAgainUnsure = errors.New("an alert that the other Alertmanager of its group said resolved within the dedup window fires: whether again or as a late copy is told when it comes after the window")

// Bounds of what report logs about one notification, whatever it holds.
const (
	reportAlerts      = 10
	reportLabelsBytes = 300
	reportRouteBytes  = 64
)

// report logs and counts what routing could not do as asked: a pinned
// route it did not follow, and alerts that no route took.
func (p *Pager) report(n *notification.Notification, pinned string, r route.Result) {
	if r.PinIgnored != route.PinFollowed {
		p.metrics.PinnedRouteIgnored.WithLabelValues(string(r.PinIgnored)).Inc()
		attrs := []any{"notification", n.ID, "pinned", clip(pinned, reportRouteBytes), "reason", r.PinIgnored, "receiver", r.Receiver}
		if rt := p.config.Route(pinned); rt != nil {
			attrs = append(attrs, "route_receiver", rt.Receiver)
		}
		p.logger.Warn("pinned route not followed, routing by matchers instead", attrs...)
	}
	if len(r.Unrouted) == 0 {
		return
	}
	label := metrics.OtherReceiver
	if p.receivers[r.Receiver] {
		label = r.Receiver
	}
	p.metrics.AlertsUnrouted.WithLabelValues(label).Add(float64(len(r.Unrouted)))
	msg := "alerts match no route: reported, not paged"
	if p.config.Unmatched != nil && p.config.Unmatched.Route != nil {
		msg = "alerts match no route: paged to unmatched.to"
	}
	p.logger.Warn(msg, "notification", n.ID, "receiver", r.Receiver, "unrouted", len(r.Unrouted), "alerts", len(n.Alerts),
		"labels", describeAlerts(r.Unrouted))
}

// describeAlerts lists the label sets of alerts on one line, alertname
// first, each clipped and at most reportAlerts of them, with the phone
// numbers in them masked.
func describeAlerts(alerts template.Alerts) string {
	var b strings.Builder
	for i, a := range alerts {
		if i == reportAlerts {
			fmt.Fprintf(&b, "; and %d more", len(alerts)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		pairs := a.Labels.SortedPairs()
		set := make([]string, len(pairs))
		for j, l := range pairs {
			set[j] = l.Name + "=" + strconv.Quote(l.Value)
		}
		b.WriteString(clip("{"+strings.Join(set, ", ")+"}", reportLabelsBytes))
	}
	return phone.Redact(b.String())
}

// clip cuts s to at most n bytes, at a character boundary, marking the
// cut with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// draft is one SMS to render: the alerts of a page that go into it, what
// each is to the recipient, and the SMS's ledger key.
type draft struct {
	page    route.Page
	alerts  template.Alerts
	classes []class
	// repeat is set for a reminder that the alerts still fire.
	repeat bool
	now    time.Time
	key    string
	// sendAt is when sipgate is to send it, when quiet hours defer it
	// with defer: send_at; zero for now.
	sendAt time.Time
	// routes say by which quiet hours each of its alerts waits, and which
	// bypass the limits.
	routes alertRoutes
}

// plan decides the SMS of each page: which alerts each tells of, and
// whether it is sent at all. An SMS that would tell its recipient nothing
// they were not told (all its alerts fire and were paged to them) is sent
// only as a repeat: when Alertmanager repeats the group, or, from an
// Alertmanager too old to say so, when they were last paged about it
// longer than the dedup window ago. Otherwise it is a retry, an HA peer's
// copy, or a notification that changed only alerts of others: counted,
// not sent.
func (p *Pager) plan(n *notification.Notification, pages []route.Page, t told, cycle *repeatCycle, routes alertRoutes, now time.Time) []draft {
	var drafts []draft
	add := func(page route.Page, alerts template.Alerts) {
		if d, ok := p.decide(n, page, alerts, t, cycle, now); ok {
			d.routes = routes
			drafts = append(drafts, d)
			return
		}
		p.metrics.Unchanged.WithLabelValues(page.Route.Name).Inc()
		p.logger.Debug("sms not sent: the recipient was told all of it before", "notification", n.ID,
			"route", page.Route.Name, "contact", page.Recipient.Label(), "number", phone.Mask(page.Recipient.Number), "alerts", len(alerts))
	}
	for _, page := range pages {
		alerts := page.Alerts
		if len(alerts) == 0 {
			continue
		}
		// One SMS for the page, or one per alert.
		if r := page.Route; r.Mode == config.ModePerAlert && (r.SummaryAbove == 0 || len(alerts) <= r.SummaryAbove) {
			for _, a := range alerts {
				add(page, template.Alerts{a})
			}
			continue
		}
		add(page, alerts)
	}
	return drafts
}

// decide returns the draft of an SMS of the alerts to the page's
// recipient, or false when it is not to be sent (see plan).
func (p *Pager) decide(n *notification.Notification, page route.Page, alerts template.Alerts, t told, cycle *repeatCycle, now time.Time) (draft, bool) {
	number := page.Recipient.Number
	d := draft{page: page, alerts: alerts, classes: classify(number, alerts, t), now: now, key: Key(n, alerts) + "/" + number}
	if news(d.classes) {
		d.key += again(number, alerts, t)
		markLate(number, d.alerts, d.classes, t)
		return d, true
	}
	if t.toldAnyResolved(number, alerts) {
		// Alertmanager resolved one of them since, and fired none again:
		// this is a late copy from before, not a repeat.
		return draft{}, false
	}
	switch {
	case cycle != nil:
		d.key += "/repeat/" + cycle.since
	case n.NotificationReason == "":
		last := lastPaged(number, alerts, t)
		if now.Sub(last) < time.Duration(p.config.Delivery.DedupWindow) {
			return draft{}, false
		}
		d.key += "/repeat/" + strconv.FormatInt(last.UnixNano(), 10)
	default:
		return draft{}, false
	}
	d.repeat = true
	return d, true
}

// markLate classes as late the firing alerts that an SMS told number
// resolved and that do not fire again for them (see told.refired): a late
// copy of a notification from before the resolved one, or one the group's
// other Alertmanager makes unsure (asked for again, see unsureOf).
// Counted as still firing, such an alert made the SMS of a new one say
// "(2 firing)" of one resolved, and its mark, paged anew, lost its
// resolved time, so that its RESOLVED came twice. A late alert stays in
// the draft, whose keys (its own, and its parts' when quiet hours split
// it) are made of all the alerts: a retry after the recipient was told
// keeps them, and finds the SMS delivered. The text and the paged marks
// leave it out (see draft.shown).
func markLate(number string, alerts template.Alerts, classes []class, t told) {
	if !t.toldResolvedTo(number) {
		return // a storm's update makes no id again
	}
	for i, c := range classes {
		if c != classStillFiring {
			continue
		}
		if r, ok := t.mark(number, alertID(alerts[i])); ok && !r.Resolved.IsZero() {
			classes[i] = classLate
		}
	}
}

// shown are the alerts the draft's SMS tells of, and their classes: all
// but the late ones (see markLate).
func (d draft) shown() (template.Alerts, []class) {
	late := slices.Index(d.classes, classLate)
	if late < 0 {
		return d.alerts, d.classes
	}
	alerts := append(make(template.Alerts, 0, len(d.alerts)), d.alerts[:late]...)
	classes := append(make([]class, 0, len(d.classes)), d.classes[:late]...)
	for i := late + 1; i < len(d.alerts); i++ {
		if d.classes[i] != classLate {
			alerts, classes = append(alerts, d.alerts[i]), append(classes, d.classes[i])
		}
	}
	return alerts, classes
}

// again is the part of an SMS's ledger key that tells it from the SMS of
// the same alerts before, whose key the ledger may still hold: the alerts
// that fire again for number (see told.refired) name when their group
// said they resolved. Retries and copies of the notification read the
// same, and share the key.
func again(number string, alerts template.Alerts, t told) string {
	if len(t.group) == 0 {
		return ""
	}
	var last time.Time
	for _, a := range alerts {
		if a.Status == "resolved" {
			continue
		}
		id := alertID(a)
		if r, ok := t.mark(number, id); ok && t.refired(id, r) && t.group[id].At.After(last) {
			last = t.group[id].At
		}
	}
	if last.IsZero() {
		return ""
	}
	return "/refired/" + strconv.FormatInt(last.UnixNano(), 10)
}

// toldAnyResolved reports whether an SMS told number since their page
// that one of the alerts resolved.
func (t told) toldAnyResolved(number string, alerts template.Alerts) bool {
	if len(t.marks) == 0 {
		return false
	}
	return slices.ContainsFunc(alerts, func(a template.Alert) bool { return t.toldResolved(number, alertID(a)) })
}

// unsureOf reports whether a firing alert of the pages may fire again for
// its recipient or be a late copy (see told.unsure).
func (t told) unsureOf(pages []route.Page) bool {
	if len(t.group) == 0 {
		return false
	}
	for _, page := range pages {
		for _, a := range page.Alerts {
			if a.Status == "resolved" {
				continue
			}
			id := alertID(a)
			if r, ok := t.mark(page.Recipient.Number, id); ok && t.unsure(id, r) {
				return true
			}
		}
	}
	return false
}

// recipients decides who is told of which alerts. Firing alerts go where
// routing sends them now. A resolved alert goes to
//   - whoever routing reaches for it now, as their routes' send_resolved
//     says (the most permissive of them): always sends, if_paged sends
//     when the ledger says its firing SMS reached them, never does not;
//   - whoever its firing SMS reached (the ledger's paged marks) and
//     routing reaches for it no more, after a reload or a hand-off: unless
//     the route that paged them now says never (a route gone from the
//     config counts as always). They hear of it in the SMS of the route
//     that reaches them now for other alerts, if any, else of the route
//     that paged them, else the built-in template.
//
// The pages returned hold only the alerts to send, the added resolved
// ones after the routed ones; their SendResolved no longer applies. The
// added ones are noted in byAlert with the route that paged them, whose
// quiet hours they wait by and whose bypass_limits they take.
func (p *Pager) recipients(n *notification.Notification, pages []route.Page, paged told, byAlert alertRoutes) []route.Page {
	var ids []string
	resolved := map[string]template.Alert{}
	for _, a := range n.Alerts {
		if a.Status != "resolved" {
			continue
		}
		id := alertID(a)
		if _, dup := resolved[id]; !dup {
			resolved[id] = a
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return pages
	}
	wasPaged := func(number, id string) bool {
		_, ok := paged.pagedAt(number, id)
		return ok
	}

	out := make([]route.Page, len(pages))
	byNumber := map[string]int{}
	// routedNow marks number + "\x00" + id for the resolved alerts that
	// routing sends to number: their routes decide, not the ledger.
	routedNow := map[string]bool{}
	for i, page := range pages {
		byNumber[page.Recipient.Number] = i
		keep := make(template.Alerts, 0, len(page.Alerts))
		for j, a := range page.Alerts {
			if a.Status == "resolved" {
				id := alertID(a)
				routedNow[page.Recipient.Number+"\x00"+id] = true
				// Whom an SMS told already that it resolved, through
				// another group or receiver, hears it once.
				if paged.toldResolved(page.Recipient.Number, id) || !sendResolved(page.SendResolved[j], wasPaged(page.Recipient.Number, id)) {
					continue
				}
			}
			keep = append(keep, a)
		}
		page.Alerts, page.SendResolved, page.Routes, page.Bypass = keep, nil, nil, nil
		out[i] = page
	}

	routes := map[string]*config.Route{}
	added := map[string]ledger.PagedRecipient{} // by number, for the log
	for _, id := range ids {
		for _, was := range paged.marks[id] {
			if routedNow[was.Number+"\x00"+id] || !was.Resolved.IsZero() {
				continue
			}
			r := routes[was.Route]
			if r == nil {
				r = p.pagedRoute(was.Route)
				routes[was.Route] = r
			}
			if !sendResolved(r.SendResolved, true) {
				continue
			}
			k, ok := byNumber[was.Number]
			if !ok {
				k = len(out)
				byNumber[was.Number] = k
				out = append(out, route.Page{Route: r, Recipient: config.Recipient{Name: was.Contact, Number: was.Number}, BypassLimits: r.BypassLimits})
			}
			out[k].Alerts = append(out[k].Alerts, resolved[id])
			// It waits by the quiet hours of the route that paged them, and
			// bypasses the limits as it does.
			byAlert.add(was.Number, id, r)
			if r.BypassLimits {
				out[k].BypassLimits = true
			}
			if _, ok := added[was.Number]; !ok {
				added[was.Number] = was
			}
		}
	}
	for number, was := range added {
		page := out[byNumber[number]]
		p.logger.Info("resolved alerts sent to whom their firing sms reached, though routing no longer sends them there",
			"notification", n.ID, "contact", page.Recipient.Label(), "number", phone.Mask(number),
			"paged_by_route", was.Route, "route", page.Route.Name)
	}
	return out
}

// sendResolved reports whether a send_resolved policy sends a resolved
// alert to someone its firing SMS did or did not reach.
func sendResolved(policy string, paged bool) bool {
	switch policy {
	case config.ResolvedNever:
		return false
	case config.ResolvedIfPaged:
		return paged
	default:
		return true
	}
}

// pagedRoute is the route that sent a firing SMS, by name, as the config
// has it now: for the resolved SMS to someone routing no longer reaches.
// When the config has it no more, they still hear that the alert
// resolved, in the built-in template with the config's SMS settings.
func (p *Pager) pagedRoute(name string) *config.Route {
	if r := p.config.Route(name); r != nil {
		return r
	}
	if name == "" {
		name = goneRoute
	}
	return &config.Route{Name: name, Template: templates.DefaultTemplate, SMS: p.config.SMS, Mode: config.ModeGrouped, SendResolved: config.ResolvedAlways}
}

// goneRoute names the route of a resolved SMS whose firing SMS was sent
// by a route the ledger did not note (marks older than route names).
const goneRoute = "unknown"

// message is the SMS of a draft with its rendered text.
func (p *Pager) message(n *notification.Notification, d draft, fit sms.Result) delivery.Message {
	var names []string
	alerts, _ := d.shown()
	paged := make([]ledger.Firing, 0, len(alerts))
	group := repeatGroup(n)
	resolved := 0
	severity := len(p.severity)
	for _, a := range alerts {
		paged = append(paged, firing(a, group))
		if a.Status == "firing" {
			if name := a.Labels["alertname"]; name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		} else {
			resolved++
		}
		if rank, ok := p.severity[a.Labels["severity"]]; ok && rank < severity {
			severity = rank
		}
	}
	return delivery.Message{
		Key:          d.key,
		Route:        d.page.Route.Name,
		Contact:      d.page.Recipient.Label(),
		Number:       d.page.Recipient.Number,
		Text:         fit.Text,
		Encoding:     fit.Size.Encoding.String(),
		Segments:     fit.Size.Segments,
		Fit:          fit,
		Severity:     severity,
		Alerts:       len(alerts),
		Firing:       len(alerts) - resolved,
		Resolved:     resolved,
		Names:        names,
		Paged:        paged,
		BypassLimits: d.bypassLimits(),
		SendAt:       d.sendAt,
	}
}

// alertID tells one firing of an alert from another.
func alertID(a template.Alert) string {
	var buf [64]byte
	return string(appendAlertID(buf[:0], a))
}

// maxFingerprint is the longest fingerprint an alert id holds as it is;
// a longer one is hashed. Alertmanager's have 16 hex digits, and one of a
// hand-made post must not make the ledger's keys longer than bbolt takes
// (32 KiB): the alert's paged marks would not be written, and it would be
// paged again.
const maxFingerprint = 64

// appendAlertID appends alertID(a) to dst: a storm makes an id of each of
// its alerts several times, and one allocation each is enough.
func appendAlertID(dst []byte, a template.Alert) []byte {
	switch fp := a.Fingerprint; {
	case fp == "":
		// Alertmanager always sends one; hand-made posts may not. The one
		// Alertmanager would have sent: short, whatever the labels' size.
		dst = append(dst, model.Fingerprint(model.LabelsToSignature(a.Labels)).String()...)
	case len(fp) > maxFingerprint:
		sum := sha256.Sum256([]byte(fp))
		dst = hex.AppendEncode(append(dst, "sha256:"...), sum[:16])
	default:
		dst = append(dst, fp...)
	}
	return strconv.AppendInt(append(dst, '|'), a.StartsAt.UnixNano(), 10)
}

// firing is the firing of a as the ledger's paged marks know it.
func firing(a template.Alert, group string) ledger.Firing {
	id := alertID(a)
	// The id without its start (see appendAlertID): the same for every
	// firing of the alert.
	return ledger.Firing{ID: id, Since: a.StartsAt, Resolved: a.Status == "resolved", Alert: id[:strings.LastIndexByte(id, '|')], Group: group}
}

// subset is the notification as one recipient sees it: only their alerts,
// in the page's order, with status and common labels recomputed for
// those.
func subset(d *template.Data, alerts template.Alerts) *template.Data {
	if sameAlerts(alerts, d.Alerts) {
		return d
	}
	s := *d
	s.Alerts = alerts
	s.Status = "resolved"
	if slices.ContainsFunc(alerts, func(a template.Alert) bool { return a.Status == "firing" }) {
		s.Status = "firing"
	}
	s.CommonLabels = common(alerts, func(a template.Alert) template.KV { return a.Labels })
	s.CommonAnnotations = common(alerts, func(a template.Alert) template.KV { return a.Annotations })
	return &s
}

func common(alerts template.Alerts, kv func(template.Alert) template.KV) template.KV {
	out := template.KV{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range kv(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		for k, v := range out {
			if kv(a)[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// Key identifies the page one recipient gets about alerts of a
// notification, for the ledger. It covers what makes the page: the group,
// the receiver, and each alert's identity, status and start, so that an
// alert that fires again later pages again. It leaves out externalURL, so
// the two replicas of an HA pair produce the same key, and the alerts of
// the group that are not in this page, so that a notification which only
// adds alerts for others does not page this recipient again.
func Key(n *notification.Notification, page template.Alerts) string {
	// Each alert's part in one buffer, sorted as slices of it: two
	// allocations for a storm's page, where a string each was as many.
	// A part taken before the buffer grew stays in the array it was
	// written to, unchanged.
	buf := make([]byte, 0, len(page)*64)
	alerts := make([][]byte, len(page))
	for i, a := range page {
		start := len(buf)
		buf = append(append(appendAlertID(buf, a), '|'), a.Status...)
		alerts[i] = buf[start:len(buf):len(buf)]
	}
	slices.SortFunc(alerts, bytes.Compare)
	h := sha256.New()
	part := func(b []byte) {
		h.Write(b)
		h.Write([]byte{0})
	}
	part([]byte(n.GroupKey))
	part([]byte(n.Receiver))
	for _, s := range alerts {
		part(s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
