package pager

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/route"
)

// Preview is what Notify would hand to delivery for a notification, and
// what it would report on the way, made by Notify itself so that a preview
// never differs from the real thing, but with nothing sent and nothing
// written to the ledger.
type Preview struct {
	// SMS are the messages, in Notify's order, each with its text and how
	// it was fitted (Message.Fit). Delivery may still hold some back: the
	// flood limits (unless BypassLimits), and the ledger's record of a
	// notification already delivered.
	SMS []delivery.Message
	// Notes are what Notify logged while making them, such as alerts that
	// no route matched, a template that failed and was replaced, or an SMS
	// not sent because it would tell its recipient nothing new.
	Notes []Note
	// Config is the config the preview was made with: after a reload, the
	// one of the Pager asked, whatever the service runs with now.
	Config *config.Config
}

// Note is one log record of a preview.
type Note struct {
	Level   slog.Level
	Message string
	// Attrs are the record's attributes but the notification id, in order;
	// phone numbers in them are masked as in the log.
	Attrs []NoteAttr
}

// NoteAttr is one attribute of a Note.
type NoteAttr struct {
	Key, Value string
}

// Preview runs Notify on n with a deliverer that keeps the messages
// instead of sending them, metrics of its own, a logger that collects the
// notes, and the Pager's ledger read only: what recipients were told
// before counts as it would. It is made as of n.Received (now when zero),
// for the schedules and for the pager's clock alike, so that a preview
// "as if at" another time is whole.
func (p *Pager) Preview(ctx context.Context, n *notification.Notification, pinned string) (*Preview, error) {
	return p.preview(ctx, n, pinned, readOnly{p.paged})
}

// Previewer previews without the service's ledger, for the render
// command, which runs beside the service or without it: each notification
// as the first of its alerts since they fired. The firing ones are new to
// everyone, and the firing SMS of each resolved one reached whoever
// routing sends it to now.
type Previewer struct{ p *Pager }

// NewPreviewer returns a Previewer of the config, with the template engine
// of its templates.
func NewPreviewer(c *config.Config) (*Previewer, error) {
	p, err := New(c, nil, nil, metrics.New(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &Previewer{p}, nil
}

// Preview is Pager.Preview as if n were the first notification of its
// alerts.
func (v *Previewer) Preview(ctx context.Context, n *notification.Notification, pinned string) (*Preview, error) {
	return v.p.preview(ctx, n, pinned, firstNotice(v.p.config, n, pinned))
}

func (p *Pager) preview(ctx context.Context, n *notification.Notification, pinned string, paged PagedLedger) (*Preview, error) {
	var kept keep
	notes := &noteHandler{list: &noteList{}}
	q := *p
	q.deliverer, q.paged = &kept, paged
	at := receivedAt(n)
	q.now = func() time.Time { return at }
	q.metrics = metrics.New(prometheus.NewRegistry())
	q.logger = slog.New(notes)
	// Resolved alerts withheld while their held SMS is in doubt, and
	// alerts unsure to fire again, are what Notify would answer 503 for,
	// after the rest: a note, not a failure.
	if err := q.Notify(ctx, n, pinned); err != nil && !errors.Is(err, ledger.ErrHeldInDoubt) && !errors.Is(err, errFiringAgainUnsure) {
		return nil, err
	}
	return &Preview{SMS: kept.msgs, Notes: notes.list.notes(), Config: p.config}, nil
}

// keep is a Deliverer that keeps what it is given.
type keep struct{ msgs []delivery.Message }

func (k *keep) Deliver(_ context.Context, b delivery.Batch) error {
	k.msgs = append(k.msgs, b.Messages...)
	return nil
}

// readOnly is a PagedLedger that answers from l and writes nothing.
type readOnly struct{ l PagedLedger }

func (r readOnly) PagedTo(alerts []ledger.Firing) (map[string][]ledger.PagedRecipient, error) {
	return r.l.PagedTo(alerts)
}

func (r readOnly) LastRepeat(group string) (ledger.Repeat, error) { return r.l.LastRepeat(group) }

func (readOnly) RecordRepeat(string, string) error { return nil }

func (r readOnly) ResolvedIn(group string, alerts []string) (map[string]ledger.GroupResolved, error) {
	return r.l.ResolvedIn(group, alerts)
}

func (readOnly) NoteGroup(string, string, []ledger.Firing, []string, bool) error { return nil }

func (readOnly) Hold(string, time.Time, []ledger.HeldAlert) error { return nil }

func (r readOnly) HeldFor(alerts []ledger.Firing) (held, inDoubt map[string][]string, err error) {
	return r.l.HeldFor(alerts)
}

// CancelHeld answers as the ledger would, and cancels nothing. A resolved
// alert whose held SMS is in doubt is withheld from its person as Notify
// withholds it, with the note Notify logs.
func (r readOnly) CancelHeld(alerts []ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	held, inDoubt, err = r.l.HeldFor(alerts)
	return held, inDoubt, 0, err
}

// assumedLedger is the PagedLedger of a Previewer's preview, made by
// firstNotice for one notification: the firing SMS of each resolved alert
// reached whom routing reaches now, and nothing else was paged.
type assumedLedger map[string][]ledger.PagedRecipient

func firstNotice(c *config.Config, n *notification.Notification, pinned string) assumedLedger {
	paged := assumedLedger{}
	for _, page := range route.Pages(c, n.Data, pinned, receivedAt(n)).Pages {
		for _, a := range page.Alerts {
			if a.Status != "resolved" {
				continue
			}
			id := alertID(a)
			paged[id] = append(paged[id], ledger.PagedRecipient{
				Number: page.Recipient.Number, Contact: page.Recipient.Name, Route: page.Route.Name, At: a.StartsAt,
			})
		}
	}
	return paged
}

func (l assumedLedger) PagedTo(alerts []ledger.Firing) (map[string][]ledger.PagedRecipient, error) {
	out := map[string][]ledger.PagedRecipient{}
	for _, a := range alerts {
		if r, ok := l[a.ID]; ok {
			out[a.ID] = r
		}
	}
	return out, nil
}

func (assumedLedger) LastRepeat(string) (ledger.Repeat, error) { return ledger.Repeat{}, nil }

func (assumedLedger) RecordRepeat(string, string) error { return nil }

func (assumedLedger) ResolvedIn(string, []string) (map[string]ledger.GroupResolved, error) {
	return nil, nil
}

func (assumedLedger) NoteGroup(string, string, []ledger.Firing, []string, bool) error { return nil }

// Hold holds nothing, and nothing was held: the firing SMS of each alert
// went out.
func (assumedLedger) Hold(string, time.Time, []ledger.HeldAlert) error { return nil }

func (assumedLedger) HeldFor([]ledger.Firing) (held, inDoubt map[string][]string, err error) {
	return nil, nil, nil
}

func (assumedLedger) CancelHeld([]ledger.Firing) (held, inDoubt map[string][]string, cancelled int, err error) {
	return nil, nil, 0, nil
}

// noteList collects the records of one preview; Notify may log from
// more than one goroutine.
type noteList struct {
	mu   sync.Mutex
	list []Note
}

func (l *noteList) add(n Note) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, n)
}

func (l *noteList) notes() []Note {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}

// noteHandler is a slog.Handler that turns every record, debug ones
// included, into a Note.
type noteHandler struct {
	list   *noteList
	attrs  []NoteAttr
	prefix string // of the group, "name."
}

func (h *noteHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *noteHandler) Handle(_ context.Context, r slog.Record) error {
	n := Note{Level: r.Level, Message: r.Message, Attrs: slices.Clone(h.attrs)}
	r.Attrs(func(a slog.Attr) bool {
		n.Attrs = h.appendAttr(n.Attrs, a)
		return true
	})
	h.list.add(n)
	return nil
}

func (h *noteHandler) appendAttr(to []NoteAttr, a slog.Attr) []NoteAttr {
	if a.Key == "notification" && h.prefix == "" {
		return to // the preview's own id says nothing
	}
	return append(to, NoteAttr{Key: h.prefix + a.Key, Value: a.Value.Resolve().String()})
}

func (h *noteHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		c.attrs = h.appendAttr(c.attrs, a)
	}
	return &c
}

func (h *noteHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}
