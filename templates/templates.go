// Package templates renders the SMS text of a notification with Alertmanager's template engine.
//
// Besides Alertmanager's template functions, templates have these, which mark up the text for
// sms.Fit (see RenderSMS), measure it, or collect what the alerts have in linear time:
//
//	shorten TEXT        TEXT may be cut to fit the budget, ending in "..." (or "…" in a UCS-2
//	                    message), or as a last resort left out.
//	items LIST SEP      the items of LIST joined with SEP; to fit, the last items may be
//	                    replaced by one item "+N more". LIST is a []string, what Alertmanager's
//	                    list and append make, or a template.Strings such as .CommonLabels.Values.
//	optional TEXT       TEXT is kept whole or left out, before anything else is cut; of several,
//	                    each is kept if it fits with those before it. For links, which say
//	                    nothing once cut.
//	legible TEXT        TEXT (an alertname) never turns into '?': where the route's encoding:
//	                    gsm7 would replace a character of it with '?', the message goes as UCS-2.
//	                    No effect inside shorten, items and optional, which drop inner markup.
//	labelValues ALERTS NAME...
//	                    the distinct values of label NAME in ALERTS (such as .Alerts or
//	                    .Alerts.Firing), in alert order, as a []string; alerts without the label
//	                    give none. With more names, each alert gives the first of them it has:
//	                    {{ items (labelValues .Alerts "instance" "pod") "," }}.
//	location ALERT      where ALERT is: the first of the labels instance, pod, node, host,
//	                    service, namespace, job and cluster that it has, "" if none.
//	locations ALERTS    the distinct locations of ALERTS, in alert order, as a []string.
//	byAlertname ALERTS ORDER
//	                    ALERTS grouped by alertname, as []AlertGroup: the group with the most
//	                    severe alert first, groups as severe by name. ORDER ranks the severity
//	                    label's values, most severe first; pass .SeverityOrder.
//	topSeverity ALERTS ORDER
//	                    the highest severity of ALERTS and how many have it, as a SeverityCount.
//	smsSegments TEXT    how many SMS segments TEXT costs as it stands.
//	smsTruncate N TEXT  TEXT cut to at most N characters, the last of them "..." (or "…" when
//	                    TEXT is UCS-2 anyway), e.g. {{ .Annotations.summary | smsTruncate 40 }}.
//
// Take distinct values with labelValues, locations or byAlertname rather than in a template
// loop: a loop that checks what it collected so far for every alert takes most of a second for a
// storm of 1,000 alerts, and most of a minute for 10,000.
//
// Data.Change tells a template what is new to the recipient of the SMS (.New, .StillFiring,
// .Resolved, .Repeat, .FiringSince, with .Clock and .Age to tell times), so that a group that
// grows, partly resolves or repeats is told as such; the built-in template says it.
//
// Check, and the message RenderSMS returns, see the text without the markup: they keep all that
// shorten and items wrap, except what RenderSMS has to cut to fit the budget.
package templates

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	tmplhtml "html/template"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	tmpltext "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sms"
)

// Data is what an SMS template sees: Alertmanager's template data, so that every template written
// for Alertmanager works, plus what this service knows beyond it.
type Data struct {
	*template.Data
	// TruncatedAlerts is how many alerts of the group Alertmanager's max_alerts left out of
	// Alerts; their status is unknown.
	TruncatedAlerts int
	// SeverityOrder ranks the values of the severity label, most severe first: the config's
	// limits.severity_order, for byAlertname and topSeverity. Empty means
	// DefaultSeverityOrder.
	SeverityOrder []string
	// Change is what is new to the recipient of this SMS: the alerts they were not paged
	// about, those still firing, those resolved, and whether this is a repeat. See Change.
	Change
}

// view is what a template executes on: Data with the fields of Alertmanager's data and of
// Change at the top. text/template looks a field up by name at every use, and a field of an
// embedded struct is found by a breadth-first search through the embedding that allocates: a
// fifth of the built-in template's time went there. Data and Change stay reachable by name, and
// Change is embedded for its methods, which text/template finds without a search.
// TestViewHasEveryField keeps the fields in step with Alertmanager's.
type view struct {
	Receiver           string
	Status             string
	Alerts             template.Alerts
	NotificationReason string
	GroupLabels        template.KV
	CommonLabels       template.KV
	CommonAnnotations  template.KV
	RouteLabels        template.KV
	ExternalURL        string

	TruncatedAlerts int
	SeverityOrder   []string

	New         template.Alerts
	StillFiring template.Alerts
	Resolved    template.Alerts
	Repeat      bool
	FiringSince time.Time
	Now         time.Time
	TimeZone    *time.Location

	Data *template.Data
	Change
	data *Data
}

// view returns what a template sees of d.
func (d *Data) view() *view {
	return &view{
		Receiver:           d.Data.Receiver,
		Status:             d.Data.Status,
		Alerts:             d.Data.Alerts,
		NotificationReason: d.Data.NotificationReason,
		GroupLabels:        d.Data.GroupLabels,
		CommonLabels:       d.Data.CommonLabels,
		CommonAnnotations:  d.Data.CommonAnnotations,
		RouteLabels:        d.Data.RouteLabels,
		ExternalURL:        d.Data.ExternalURL,
		TruncatedAlerts:    d.TruncatedAlerts,
		SeverityOrder:      d.SeverityOrder,
		New:                d.New,
		StillFiring:        d.StillFiring,
		Resolved:           d.Resolved,
		Repeat:             d.Repeat,
		FiringSince:        d.FiringSince,
		Now:                d.Now,
		TimeZone:           d.TimeZone,
		Data:               d.Data,
		Change:             d.Change,
		data:               d,
	}
}

// MarshalJSON writes Data as Alertmanager's toJson writes it, with the
// webhook's keys: the view is how templates see it, not another shape.
func (v *view) MarshalJSON() ([]byte, error) { return json.Marshal(v.data) }

// GroupSize is Data.GroupSize, for templates.
func (v *view) GroupSize() int { return v.data.GroupSize() }

// FiringAlerts is Data.FiringAlerts, for templates.
func (v *view) FiringAlerts() template.Alerts { return v.data.FiringAlerts() }

// DefaultSeverityOrder is the severity order of templates whose Data has none: the config's
// default limits.severity_order.
func DefaultSeverityOrder() []string {
	return []string{"critical", "error", "warning", "info"}
}

// GroupSize is how many alerts the group has: those in Alerts and those max_alerts left out.
func (d *Data) GroupSize() int {
	return len(d.Alerts) + d.TruncatedAlerts
}

// DefaultTemplate is the text a route uses when it names no template of its own.
const DefaultTemplate = `{{ template "sms.default.message" . }}`

//go:embed default.tmpl
var defaultTmpl string

// ErrEmptyMessage is returned (wrapped) when a template renders nothing but whitespace.
// sipgate rejects an empty SMS, so such a message can never be sent; retrying cannot help.
var ErrEmptyMessage = errors.New("template rendered an empty message")

// Engine holds the parsed built-in and user templates; safe for concurrent use, immutable after
// New but for its cache of parsed texts.
type Engine struct {
	// text is the text/template set of Alertmanager's template that New loaded, never parsed
	// into after New: a text to render is parsed into a clone of it, as Alertmanager's
	// ExecuteTextString does, which is what makes concurrent renders safe. Alertmanager's
	// template itself is not kept, for it holds every template parsed as HTML too.
	text *tmpltext.Template
	// parsed holds, per text RenderSMS rendered, a clone of text with it parsed in: what
	// ExecuteTextString makes afresh at every render, by far the most of its cost. The texts are
	// the routes' templates of one config, at most maxParsed of them.
	parsed  sync.Map // string -> *tmpltext.Template
	nParsed atomic.Int32
}

// maxParsed bounds the texts an Engine keeps parsed; a text beyond it is parsed at each render.
const maxParsed = 256

// New loads Alertmanager's default templates, our embedded default.tmpl, then the user's globs
// (in that order, so users may override our named templates). A glob that matches nothing is
// not an error (like Alertmanager); a parse error is, wrapped with the glob (the error of the
// template parser names the file).
func New(globs []string) (*Engine, error) {
	var text *tmpltext.Template
	keepText := func(t *tmpltext.Template, _ *tmplhtml.Template) { text = t }
	t, err := template.FromGlobs(nil, smsFuncs(), keepText)
	if err != nil {
		return nil, fmt.Errorf("load Alertmanager's default templates: %w", err)
	}
	if err := t.Parse(strings.NewReader(defaultTmpl)); err != nil {
		return nil, fmt.Errorf("load built-in default.tmpl: %w", err)
	}
	for _, glob := range globs {
		if err := t.FromGlob(glob); err != nil {
			return nil, fmt.Errorf("load templates %q: %w", glob, err)
		}
		if err := checkFiles(glob); err != nil {
			return nil, err
		}
	}
	return &Engine{text: text}, nil
}

// errRouteLabels explains why the routeLabels function is refused: Alertmanager binds it to its
// own data type at each render, and only for that type, so with this service's Data it would
// render nothing; the webhook carries the route labels rendered already.
var errRouteLabels = errors.New(`the routeLabels function does not work in SMS templates: use .RouteLabels.NAME, which holds the route labels as Alertmanager rendered them`)

// usesRouteLabels reports whether a template text calls routeLabels.
func usesRouteLabels(text string) bool {
	return strings.Contains(text, "routeLabels")
}

// checkFiles refuses template files that call routeLabels, naming the file.
func checkFiles(glob string) error {
	files, err := filepath.Glob(glob)
	if err != nil {
		return fmt.Errorf("load templates %q: %w", glob, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("load templates %q: %w", glob, err)
		}
		if usesRouteLabels(string(b)) {
			return fmt.Errorf("load templates %s: %w", f, errRouteLabels)
		}
	}
	return nil
}

// Check parses text and test-renders it against built-in sample notifications (a firing group
// of 2 alerts and a resolved one), so a broken template is found at config load and never at
// run time. A parse error is returned as the template parser reports it; an error while
// executing, or an empty result (which RenderSMS would refuse), names the sample it happened with.
func (e *Engine) Check(text string) error {
	if usesRouteLabels(text) {
		return errRouteLabels
	}
	var (
		tmpl *tmpltext.Template
		err  error
	)
	if text != "" {
		// Not kept among the parsed texts: Check is asked about texts that
		// may never be rendered.
		if tmpl, err = e.compile(text); err != nil {
			return err
		}
	}
	for _, s := range samples() {
		var out strings.Builder
		if tmpl != nil {
			err = executeView(tmpl, &out, &Data{Data: s.data, Change: s.change})
		}
		var execErr tmpltext.ExecError
		switch {
		case errors.As(err, &execErr):
			return fmt.Errorf("with the sample %s notification: %w", s.name, err)
		case err != nil:
			// Not an ExecError: the text does not parse, which is the same with every sample.
			return err
		case sms.Blank(sms.Strip(collapse(out.String()))):
			return fmt.Errorf("with the sample %s notification: %w", s.name, ErrEmptyMessage)
		}
	}
	return nil
}

// RenderSMS executes text with data, then makes it SMS-ready: surrounding whitespace is
// trimmed and every run of whitespace (newlines included) becomes one space, then sms.Fit fits
// the result to b, cutting what the template marked with shorten and items first, and removes
// that markup (keeping all it wraps that fits). A result that shows nothing (also one that
// transliteration left empty, or one of zero-width characters only: sms.Blank) is an error
// wrapping ErrEmptyMessage. The template stops at its next write once ctx ends, or once its
// output passes MaxOutput, with an error.
func (e *Engine) RenderSMS(ctx context.Context, text string, data *Data, b sms.Budget) (sms.Result, error) {
	if data == nil || data.Data == nil {
		return sms.Result{}, errors.New("render SMS text: no notification data")
	}
	out, err := e.execute(ctx, text, data)
	if err != nil {
		return sms.Result{}, fmt.Errorf("render SMS text: %w", err)
	}
	fit := sms.Fit(collapse(out), b)
	if sms.Blank(fit.Text) {
		return sms.Result{}, fmt.Errorf("render SMS text: %w", ErrEmptyMessage)
	}
	return fit, nil
}

// execute is ExecuteTextString of Alertmanager's template without its clone and parse at every
// call: text is parsed once into a clone of the template set, as ExecuteTextString would, and that
// clone is executed from then on (text/template executes concurrently). Funcs bound per render by
// ExecuteTextString (routeLabels) are refused at load, so nothing differs.
func (e *Engine) execute(ctx context.Context, text string, data *Data) (string, error) {
	if text == "" {
		return "", nil
	}
	tmpl, err := e.parse(text)
	if err != nil {
		return "", err
	}
	out := output{done: ctx.Done(), ctx: ctx}
	err = executeView(tmpl, &out, data)
	return out.text.String(), err
}

// MaxOutput bounds what one template may write: an SMS is a few hundred characters, and the
// built-in template writes 0.9 MB for a storm of 20,000 alerts (instances of 35 characters),
// its lists marked for cutting. A template that writes more (one quadratic in the alerts) gets
// the built-in one's text, or the fallback text, instead, and takes no more memory.
const MaxOutput = 8 << 20

// errOutputTooLong stops a template that writes more than MaxOutput.
var errOutputTooLong = fmt.Errorf("the template wrote more than %d MiB", MaxOutput>>20)

// output is what a template writes into: a write fails once ctx ended or the text would pass
// MaxOutput, which ends the execution with that error. text/template cannot be interrupted
// otherwise, and a render abandoned for its deadline would run on after its fallback text went
// out, its output growing without bound.
type output struct {
	done <-chan struct{} // ctx.Done(), asked on every write without taking ctx's lock
	ctx  context.Context
	text strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	select {
	case <-o.done:
		return 0, context.Cause(o.ctx)
	default:
	}
	if o.text.Len()+len(p) > MaxOutput {
		return 0, errOutputTooLong
	}
	return o.text.Write(p)
}

// executeView executes tmpl on the view of data. text/template names the
// type it executes on in its errors ("can't evaluate field X in type
// ..."), and a template's author knows that type as Data, never as the
// view: the error is worded with Data's name.
func executeView(tmpl *tmpltext.Template, w io.Writer, data *Data) error {
	err := tmpl.Execute(w, data.view())
	if err == nil {
		return err
	}
	viewType, dataType := reflect.TypeFor[*view]().String(), reflect.TypeFor[*Data]().String()
	if msg := err.Error(); strings.Contains(msg, viewType) {
		return &renamedError{err: err, msg: strings.ReplaceAll(msg, viewType, dataType)}
	}
	return err
}

// renamedError is err with another message; errors.As still finds
// text/template's ExecError in it.
type renamedError struct {
	err error
	msg string
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// compile parses text into a clone of the template set, as Alertmanager's ExecuteTextString
// does before it executes it.
func (e *Engine) compile(text string) (*tmpltext.Template, error) {
	if e.text == nil {
		return nil, errors.New("no templates loaded")
	}
	clone, err := e.text.Clone()
	if err != nil {
		return nil, err
	}
	return clone.New("").Option("missingkey=zero").Parse(text)
}

// parse returns text parsed into a clone of the template set, from the cache when it is there.
func (e *Engine) parse(text string) (*tmpltext.Template, error) {
	if t, ok := e.parsed.Load(text); ok {
		return t.(*tmpltext.Template), nil
	}
	t, err := e.compile(text)
	if err != nil {
		return nil, err
	}
	if e.nParsed.Add(1) <= maxParsed {
		if cached, loaded := e.parsed.LoadOrStore(text, t); loaded {
			e.nParsed.Add(-1)
			return cached.(*tmpltext.Template), nil
		}
	}
	return t, nil
}

// collapse trims surrounding whitespace and turns every run of whitespace into one space, seeing
// through the markers of shorten and items: the space of a run goes before any markers in it,
// so that sms.Strip(collapse(s)) is what collapsing sms.Strip(s) would give. Other control
// characters are dropped: the sipgate client would drop them from the SMS anyway, and a text
// of nothing else must count as empty, so that the fallback text is sent instead.
func collapse(s string) string {
	if collapsed(s) {
		return s
	}
	return recollapse(s)
}

// recollapse is collapse the long way, rune by rune.
func recollapse(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var held []rune // markers that came after whitespace, written after its one space
	content, space := false, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = content
		case unicode.IsControl(r):
		case sms.IsMarker(r):
			if space {
				held = append(held, r)
			} else {
				b.WriteRune(r)
			}
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			for _, m := range held {
				b.WriteRune(m)
			}
			held = held[:0]
			b.WriteRune(r)
			content = true
		}
	}
	for _, m := range held {
		b.WriteRune(m)
	}
	return b.String()
}

// collapsed reports whether collapse would return s unchanged: valid UTF-8 without control
// characters whose only whitespace is single spaces between content. What the built-in template renders is, and
// checking costs far less than building a copy of a storm's text of thousands of instances.
func collapsed(s string) bool {
	content := false // content came before
	space := false   // a space came after the last content
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case c == ' ':
				if !content || space {
					return false
				}
				space = true
			case c < ' ' || c == 0x7f: // whitespace or another control character
				return false
			default:
				content, space = true, false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1, unicode.IsSpace(r), unicode.IsControl(r):
			return false
		case !sms.IsMarker(r):
			content, space = true, false
		}
	}
	return !space
}

// smsFuncs adds the template functions of the package doc.
func smsFuncs() template.Option {
	funcs := funcMap()
	return func(text *tmpltext.Template, html *tmplhtml.Template) {
		text.Funcs(funcs)
		html.Funcs(funcs)
	}
}

// funcMap returns the template functions of the package doc. Their names must not be
// Alertmanager's: a user's template written for Alertmanager must mean the same here.
func funcMap() map[string]any {
	return map[string]any{
		"shorten":     sms.Shorten,
		"items":       items,
		"optional":    sms.Optional,
		"legible":     sms.Legible,
		"labelValues": labelValues,
		"location":    location,
		"locations":   locations,
		"byAlertname": byAlertname,
		"topSeverity": topSeverity,
		"smsSegments": func(s string) int { return sms.Measure(sms.Strip(s)).Segments },
		"smsTruncate": func(n int, s string) string { return sms.Truncate(sms.Strip(s), n) },
	}
}

// items is the template function items: list is what Alertmanager's templates make lists of.
func items(list any, sep string) (string, error) {
	var ss []string
	switch l := list.(type) {
	case nil:
	case []string:
		ss = l
	case template.Strings:
		ss = l
	case []any:
		ss = make([]string, len(l))
		for i, v := range l {
			ss[i] = fmt.Sprint(v)
		}
	default:
		return "", fmt.Errorf("items: want a list of strings, got %T", list)
	}
	return sms.List(ss, sep), nil
}

// labelValues is the template function labelValues. A template can take distinct values itself
// only by rescanning what it collected for every alert, which is quadratic: most of a second for
// a storm of 1,000 alerts, past the webhook timeout for a few thousand. Even a template loop that
// only appends costs one or two microseconds per alert in text/template's reflection; here each
// alert costs a map lookup or two.
func labelValues(alerts []template.Alert, names ...string) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("labelValues: want one or more label names after the alerts")
	}
	// Sized for a storm of alerts on as many instances, the case this function is for.
	values := make([]string, 0, len(alerts))
	seen := make(map[string]struct{}, len(alerts))
	for _, a := range alerts {
		for _, name := range names {
			v := a.Labels[name]
			if v == "" {
				continue
			}
			if _, dup := seen[v]; !dup {
				seen[v] = struct{}{}
				values = append(values, v)
			}
			break
		}
	}
	return values, nil
}

// locationLabels are the labels that say where an alert is, the most precise first: a target
// (instance), a Kubernetes pod or node, a host, then what holds many of them (service, namespace,
// job), and last a cluster. instance comes first although kube-state-metrics alerts carry the
// instance of the exporter: it is what the alerts of most exporters mean, and so what Alertmanager
// users expect.
var locationLabels = [...]string{"instance", "pod", "node", "host", "service", "namespace", "job", "cluster"}

// location is the template function location.
func location(a template.Alert) string {
	for _, name := range locationLabels {
		if v := a.Labels[name]; v != "" {
			return v
		}
	}
	return ""
}

// locations is the template function locations: distinct in alert order, linear in the alerts.
func locations(alerts []template.Alert) []string {
	values := make([]string, 0, len(alerts))
	seen := make(map[string]struct{}, len(alerts))
	for _, a := range alerts {
		if v := location(a); v != "" {
			if _, dup := seen[v]; !dup {
				seen[v] = struct{}{}
				values = append(values, v)
			}
		}
	}
	return values
}

// AlertGroup is the alerts of one alertname, as byAlertname returns them.
type AlertGroup struct {
	// Name is the alertname, "" for alerts without one.
	Name string
	// Severity is the highest severity label of Alerts, "" when none has one.
	Severity string
	// Alerts are the alerts of this name, the most severe first, those as severe in the order
	// given.
	Alerts template.Alerts
	// Locations are the distinct locations of Alerts (see location), in the order of Alerts.
	Locations []string
}

// SeverityCount is what topSeverity returns.
type SeverityCount struct {
	// Severity is the highest severity label of the alerts, "" when none has one.
	Severity string
	// Count is how many alerts have it, 0 when none has one.
	Count int
}

// severityRank ranks severity label values by order (DefaultSeverityOrder when empty), the
// most severe 0: values not in order rank after those in it, and no severity last.
type severityRank []string

func rankOf(order []string) severityRank {
	if len(order) == 0 {
		return DefaultSeverityOrder()
	}
	return order
}

func (o severityRank) of(severity string) int {
	if severity == "" {
		return len(o) + 1
	}
	if i := slices.Index(o, severity); i >= 0 {
		return i
	}
	return len(o)
}

// byAlertname is the template function byAlertname. Of severities that rank the same (values
// not in order) the first given counts. Linear in the alerts, bar sorting the groups: the alerts
// are ordered by group and rank with a counting sort, and not copied at all when they are in that
// order already, as a storm of one alertname and severity is.
func byAlertname(alerts []template.Alert, order []string) []AlertGroup {
	rank := rankOf(order)
	ranks := len(rank) + 2 // those in order, those not, none
	var groups []AlertGroup
	index := map[string]int{}
	// keys[i] is the group and rank of alerts[i], in the order they are sorted by.
	keys := make([]int, len(alerts))
	last, lastGroup := "", -1 // alerts of one name tend to come in runs: look up each run once
	for i, a := range alerts {
		name := a.Labels["alertname"]
		if lastGroup < 0 || name != last {
			g, ok := index[name]
			if !ok {
				g = len(groups)
				index[name] = g
				groups = append(groups, AlertGroup{Name: name})
			}
			last, lastGroup = name, g
		}
		keys[i] = lastGroup*ranks + rank.of(a.Labels["severity"])
	}
	// bounds[k] is where the alerts of key k start in sorted, bounds[k+1] where they end.
	bounds := make([]int, len(groups)*ranks+1)
	for _, k := range keys {
		bounds[k+1]++
	}
	for k := 1; k < len(bounds); k++ {
		bounds[k] += bounds[k-1]
	}
	sorted := template.Alerts(alerts)
	if !slices.IsSorted(keys) {
		sorted = make(template.Alerts, len(alerts))
		next := slices.Clone(bounds)
		for i, a := range alerts {
			sorted[next[keys[i]]] = a
			next[keys[i]]++
		}
	}
	best := make([]int, len(groups)) // the rank of each group's most severe alert
	for g := range groups {
		from, to := bounds[g*ranks], bounds[(g+1)*ranks]
		groups[g].Alerts = sorted[from:to:to]
		groups[g].Severity = sorted[from].Labels["severity"]
		best[g] = rank.of(groups[g].Severity)
		groups[g].Locations = locations(groups[g].Alerts)
	}
	byRank := make([]int, len(groups))
	for g := range byRank {
		byRank[g] = g
	}
	slices.SortFunc(byRank, func(a, b int) int {
		return cmp.Or(cmp.Compare(best[a], best[b]), strings.Compare(groups[a].Name, groups[b].Name))
	})
	out := make([]AlertGroup, len(groups))
	for i, g := range byRank {
		out[i] = groups[g]
	}
	return out
}

// topSeverity is the template function topSeverity. Of severities that rank the same (values
// not in order) the first given counts.
func topSeverity(alerts []template.Alert, order []string) SeverityCount {
	rank := rankOf(order)
	var top SeverityCount
	best := rank.of("")
	for _, a := range alerts {
		s := a.Labels["severity"]
		switch r := rank.of(s); {
		case s == "":
		case r < best:
			top, best = SeverityCount{Severity: s, Count: 1}, r
		case s == top.Severity:
			top.Count++
		}
	}
	return top
}

type sample struct {
	name string
	data *template.Data
	// change is what the sample tells its recipient is new, for templates that say it.
	change Change
}

// samples returns fresh sample notifications for Check, shaped like the webhook bodies a real
// Alertmanager sends: every map present, two replicas of one alert, then the group resolved.
func samples() []sample {
	startsAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	endsAt := startsAt.Add(10 * time.Minute)
	alert := func(status, instance string, endsAt time.Time) template.Alert {
		return template.Alert{
			Status: status,
			Labels: template.KV{
				"alertname": "HighErrorRate",
				"instance":  instance,
				"job":       "checkout",
				"severity":  "critical",
			},
			Annotations: template.KV{
				"summary":     "Checkout 5xx rate above 5%",
				"description": "5xx ratio is 7.3% over the last 5m on " + instance,
			},
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=up",
			Fingerprint:  "f8d0d89aa46f68ba" + instance,
		}
	}
	group := func(status, reason string, alerts ...template.Alert) *template.Data {
		return &template.Data{
			Receiver:           "sms",
			Status:             status,
			Alerts:             alerts,
			NotificationReason: reason,
			GroupLabels:        template.KV{"alertname": "HighErrorRate"},
			CommonLabels:       template.KV{"alertname": "HighErrorRate", "job": "checkout", "severity": "critical"},
			CommonAnnotations:  template.KV{"summary": "Checkout 5xx rate above 5%"},
			RouteLabels:        template.KV{},
			ExternalURL:        "http://alertmanager.example:9093",
		}
	}
	var zero time.Time
	web1, web2 := alert("firing", "web-1:8080", zero), alert("firing", "web-2:8080", zero)
	now := startsAt.Add(2 * time.Hour)
	return []sample{
		{"firing", group("firing", "first notification", web1, web2), Change{}},
		{"resolved", group("resolved", "all alerts resolved",
			alert("resolved", "web-1:8080", endsAt), alert("resolved", "web-2:8080", endsAt)), Change{}},
		{"grown", group("firing", "new alerts added", web1, web2),
			Change{New: template.Alerts{web2}, StillFiring: template.Alerts{web1}, FiringSince: startsAt, Now: now}},
		{"partly resolved", group("firing", "some alerts resolved", alert("resolved", "web-1:8080", endsAt), web2),
			Change{Resolved: template.Alerts{alert("resolved", "web-1:8080", endsAt)}, StillFiring: template.Alerts{web2}, FiringSince: startsAt, Now: now}},
		{"repeated", group("firing", "repeat interval elapsed", web1, web2),
			Change{StillFiring: template.Alerts{web1, web2}, Repeat: true, FiringSince: startsAt, Now: now}},
	}
}
