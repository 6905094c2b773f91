// Package receiver turns Alertmanager webhook requests into notifications,
// and the outcome of paging back into the HTTP status Alertmanager acts on:
// 2xx done, 5xx retry, 4xx the request itself is wrong.
package receiver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/go-playground/validator/v10"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/keylock"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/validation"
)

// Notifier pages the people a notification concerns. route, when not
// empty, pins the notification to that named route. A valid notification
// is always one that can be handled, so any error says that a retry may
// help: a pinned route that cannot be followed or alerts that no route
// matches are the Notifier's to report, never an answer that would make
// Alertmanager drop the notification or repeat it unchanged. ctx ends at
// Options.Timeout or when Alertmanager hangs up; a Notifier must finish
// the sends it has begun regardless, so that they are recorded.
type Notifier interface {
	Notify(ctx context.Context, n *notification.Notification, route string) error
}

// OtherReceiver is the receiver label of a request whose receiver the
// config does not name, and of every request rejected before or while
// decoding (401, 400, 413, 415, and 503 when too many are in flight or
// the body came too slowly),
// so that nothing a client sends becomes a label value.
const OtherReceiver = metrics.OtherReceiver

// retryAfterBusy is the Retry-After of a request turned away because too
// many notifications are in flight: most are done within a second.
const retryAfterBusy = "1"

// maxTruncated bounds the truncatedAlerts a notification may claim: more
// than any group holds, and within an int on every platform.
const maxTruncated = math.MaxInt32

// Options configure a Handler.
type Options struct {
	// MaxBodyBytes bounds the request body; larger ones get 413.
	MaxBodyBytes int64
	// Timeout bounds the paging of one notification.
	Timeout time.Duration
	// MaxAlerts bounds the alerts kept of one notification (0: no bound);
	// the rest are counted in its TruncatedAlerts.
	MaxAlerts int
	// MaxInFlight bounds the notifications handled at once; a request
	// beyond it is answered 503 with Retry-After before its body is read.
	// With 0 every request is answered so.
	MaxInFlight int
	// MaxAlertsInFlight bounds the alerts kept of all the notifications
	// handled at once (0: no bound), as MaxAlerts bounds one's, each
	// alert weighed by its size (see alertWeight), but no notification
	// more than MaxAlerts in all. Room is taken as each alert is decoded.
	// The oldest notification being decoded that runs out of it waits
	// for room, up to half of Timeout, and has the room given back to
	// itself until its decoding or that time ends; any other is answered
	// 503 with Retry-After, and so is a request that finds no room before
	// its body is read. Below MaxAlerts, a notification that big never
	// passes; without MaxAlerts, neither does an alert heavier than the
	// bound.
	MaxAlertsInFlight int
	// ReceiverName, asked for the receiver field of every decoded
	// notification, returns the name under which the current config routes
	// on that Alertmanager receiver, if it does (Receivers.Name is one).
	// Only such names become values of the receiver label, besides
	// OtherReceiver; asking on every request lets a reload change the set.
	// nil knows no receiver.
	ReceiverName func(receiver string) (name string, known bool)
	// BearerToken, or BasicAuthUsername and BasicAuthPassword, when set,
	// must be presented by the client.
	BearerToken                          string
	BasicAuthUsername, BasicAuthPassword string

	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Handler serves POST /api/v1/alerts and POST /api/v1/alerts/{route}.
type Handler struct {
	notifier Notifier
	o        Options
	validate *validator.Validate
	mux      *http.ServeMux
	inFlight gate
	// budget holds the alerts kept of the notifications in flight.
	budget alertBudget
	// groups holds the Alertmanager groups being paged: a group's
	// notifications are paged one at a time (see notify).
	groups keylock.Set[string]
	// alerts holds the alerts being paged, by alertLocks: notifications
	// that share an alert are paged one at a time (see notify).
	alerts keylock.Set[uint64]
	// seed hashes the fingerprints that are not Alertmanager's.
	seed maphash.Seed
}

// New returns the webhook handler.
func New(n Notifier, o Options) *Handler {
	h := &Handler{notifier: n, o: o, validate: newValidator(), mux: http.NewServeMux(), inFlight: newGate(o.MaxInFlight), seed: maphash.MakeSeed()}
	h.budget.max = int64(o.MaxAlertsInFlight)
	h.mux.HandleFunc("POST /api/v1/alerts", h.serve)
	// {route...} takes the rest of the path, slashes too, so that no
	// pinned route, however mistyped, meets the mux's 404.
	h.mux.HandleFunc("POST /api/v1/alerts/{route...}", h.serve)
	return h
}

// NotificationsInFlight is how many notifications are being handled now,
// of Options.MaxInFlight.
func (h *Handler) NotificationsInFlight() int { return len(h.inFlight) }

// AlertsInFlight is how many alerts the notifications being handled now
// keep, each weighed by its size, of Options.MaxAlertsInFlight.
func (h *Handler) AlertsInFlight() int { return int(h.budget.used.Load()) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func newValidator() *validator.Validate {
	v := validation.New("json", nil)
	// Alertmanager's types carry no validate tags: the rules live here.
	v.RegisterStructValidationMapRules(map[string]string{
		"GroupKey": "required",
	}, notification.Notification{})
	v.RegisterStructValidationMapRules(map[string]string{
		"Receiver": "required",
		"Status":   "required,oneof=firing resolved",
		// Each alert is checked as it is decoded: checkAlert.
		"Alerts": "required,min=1",
	}, template.Data{})
	// validAlert passes the alerts these rules pass, without reflection.
	v.RegisterStructValidationMapRules(map[string]string{
		"Status": "required,oneof=firing resolved",
		"Labels": "required,min=1",
	}, template.Alert{})
	return v
}

// httpError is an answer other than success: a status and a one-line reason.
type httpError struct {
	code   int
	reason string
}

// errBusy answers a request beyond Options.MaxInFlight, with Retry-After.
var errBusy = &httpError{http.StatusServiceUnavailable, "too many notifications in flight, retry later"}

// errAlertsBusy answers a request whose alerts
// Options.MaxAlertsInFlight has no room for, with Retry-After.
var errAlertsBusy = &httpError{http.StatusServiceUnavailable, "too many alerts in flight, retry later"}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	id := notification.NewID()
	body := &bodyReader{ReadCloser: r.Body, done: r.ContentLength == 0}
	receiver, herr := h.handle(w, r, body, id)
	code, reason := http.StatusOK, "ok"
	if herr != nil {
		code, reason = herr.code, herr.reason
	}
	h.o.Metrics.WebhooksReceived.WithLabelValues(receiver, strconv.Itoa(code)).Inc()
	if code >= 400 {
		level := slog.LevelWarn
		if code >= 500 {
			level = slog.LevelError
		}
		h.o.Logger.Log(r.Context(), level, "webhook failed", "notification", id, "code", code, "reason", reason, "receiver", receiver, "remote", r.RemoteAddr)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="alertmanager-sipgate"`)
	}
	if herr == errBusy || herr == errAlertsBusy {
		w.Header().Set("Retry-After", retryAfterBusy)
	}
	// net/http would drain what is left of the body after this answer,
	// waiting on a slow client for up to the server's read timeout; an
	// answer that leaves the body unread closes the connection instead.
	// (HTTP/2 resets just the stream of an unread body.)
	unread := !body.done && r.ProtoMajor == 1
	if unread {
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, reason)
	if unread {
		// The answer is written; reading no further makes the drain end at
		// once. Servers that cannot set a deadline (tests' recorders) have
		// nothing to drain from a slow client.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// handle checks, decodes and pages one request, in that order: nothing is
// read from the body of a request that is not authorized, not JSON, or
// beyond the bound of notifications in flight, or that finds no room for
// alerts. It returns the receiver label and the answer, nil for success.
func (h *Handler) handle(w http.ResponseWriter, r *http.Request, body *bodyReader, id string) (string, *httpError) {
	if !h.authorized(r) {
		return OtherReceiver, &httpError{http.StatusUnauthorized, "unauthorized"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return OtherReceiver, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %s is not application/json", validation.Quote(r.Header.Get("Content-Type")))}
	}
	// Alertmanager sends plain JSON; a compressed body would read as
	// malformed JSON, and a plain one labelled compressed is not what
	// its sender meant.
	for _, ce := range r.Header.Values("Content-Encoding") {
		if ce != "" && !strings.EqualFold(ce, "identity") {
			return OtherReceiver, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %s is not supported: send plain JSON", validation.Quote(ce))}
		}
	}
	if !h.inFlight.enter() {
		return OtherReceiver, errBusy
	}
	defer h.inFlight.leave()
	if h.budget.full() {
		return OtherReceiver, errAlertsBusy
	}
	// The oldest notification being decoded waits for room as long as
	// one waits for its group (see notify), and the rest are turned
	// away. The body's read deadline (webhook.timeout from its start)
	// runs on while it waits: what is left of the body is read in the
	// other half.
	wait, stopWaiting := context.WithTimeout(r.Context(), h.o.Timeout/2)
	defer stopWaiting()
	held := h.budget.claim(wait, int64(h.o.MaxAlerts))
	defer held.release()
	n, herr := h.decode(w, body, held)
	held.decoded()
	if herr != nil {
		return OtherReceiver, herr
	}
	n.ID, n.Received = id, time.Now()
	receiver := OtherReceiver
	if h.o.ReceiverName != nil {
		if name, ok := h.o.ReceiverName(n.Receiver); ok {
			receiver = name
		}
	}
	return receiver, h.notify(r, n)
}

// decode reads the notification straight from the body, so that the body
// is never held as a whole beside what it decodes to. Each alert it keeps
// is taken from the budget of alerts in flight by held.
func (h *Handler) decode(w http.ResponseWriter, body io.ReadCloser, held *claim) (*notification.Notification, *httpError) {
	n, herr := read(http.MaxBytesReader(w, body, h.o.MaxBodyBytes), h.validate, h.o.MaxAlerts, held)
	if herr != nil {
		return nil, herr
	}
	for _, a := range n.Alerts {
		h.o.Metrics.AlertsReceived.WithLabelValues(a.Status).Inc()
	}
	h.o.Metrics.AlertsTruncated.Add(float64(n.TruncatedAlerts))
	return n, nil
}

// read decodes and validates one notification from r, whose size the
// caller bounds. held, when not nil, takes each alert kept from its
// budget.
func read(r io.Reader, v *validator.Validate, maxAlerts int, held *claim) (*notification.Notification, *httpError) {
	checkAlert := func(i int, a *template.Alert, size int64) error {
		if !validAlert(a) {
			if err := v.Struct(a); err != nil {
				return invalidError(describe(err, fmt.Sprintf("alerts[%d].", i)))
			}
		}
		if held != nil && (maxAlerts <= 0 || i < maxAlerts) && !held.take(alertWeight(size, len(a.Labels)+len(a.Annotations))) {
			return errNoAlertBudget
		}
		return nil
	}
	n, err := decodeNotification(r, checkAlert, maxAlerts)
	if err != nil {
		return nil, readError(err)
	}
	if n.Version != notification.Version {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("unsupported webhook version %s, want %q", validation.Quote(n.Version), notification.Version)}
	}
	if n.Data == nil {
		return nil, &httpError{http.StatusBadRequest, "no alerts in notification"}
	}
	if n.TruncatedAlerts > maxTruncated {
		// No group holds that many; counted as an int, the SMS said
		// FIRING 1 for 2^64-1.
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("truncatedAlerts: %d is more alerts than any group holds", n.TruncatedAlerts)}
	}
	if err := v.Struct(n); err != nil {
		return nil, &httpError{http.StatusBadRequest, "invalid notification: " + describe(err, "")}
	}
	return n, nil
}

// What an alert weighs of the alerts in flight: an alert of the smallest
// valid JSON holds about 750 bytes of heap while paged (its maps, strings
// and template.Alert), and weighs one. What it holds beyond grows with
// the bytes of its values that the decoder cannot share with other alerts
// (a KB of them about 1.5 KB) and with its labels and annotations, each an
// entry of a map (about 40 bytes): BenchmarkHeavyAlertsInFlight measured
// 2.4 KB for an alert of 1.6 KB of distinct values, 1.5 KB when its values
// repeat from alert to alert, 4.9 KB for one of 112 short labels in 1.3
// KB. Counted as alerts alone, 60 notifications of such alerts held 235 to
// 773 MB within the bound that holds 120 MB of the smallest; weighed, at
// most about 130 MB. An alert as Prometheus sends it (about 500 bytes,
// eight entries) weighs one.
const (
	alertWeightBytes   = 768
	alertWeightEntries = 16
)

// alertWeight is the room an alert of size bytes of JSON and entries
// labels and annotations takes of the alerts in flight: one, one more for
// each alertWeightBytes and one more for each alertWeightEntries. A
// notification's claim takes no more than max_alerts in all (claim.most):
// what it holds beyond its weight is bounded by max_body_bytes.
func alertWeight(size int64, entries int) int64 {
	return 1 + max(size, 0)/alertWeightBytes + int64(entries)/alertWeightEntries
}

// validAlert reports whether a passes the rules newValidator gives
// template.Alert. An alert that does not is checked by the validator,
// which says what is wrong in the words of every other check. The
// validator reflects on each field of each alert, five allocations an
// alert: a fifth of what a storm allocated, and a tenth of its CPU time.
// TestValidAlertAgreesWithTheRules holds the two to the same verdict.
func validAlert(a *template.Alert) bool {
	return (a.Status == "firing" || a.Status == "resolved") && len(a.Labels) > 0
}

// invalidError is a notification that fails validation: what is wrong,
// in one line.
type invalidError string

func (e invalidError) Error() string { return string(e) }

// readError is the answer to a body that could not be decoded.
func readError(err error) *httpError {
	var (
		invalid  invalidError
		tooLarge *http.MaxBytesError
		timeout  interface{ Timeout() bool }
		syntax   *jsontext.SyntacticError
		typ      *jsonv2.SemanticError
	)
	switch {
	case errors.Is(err, errNoAlertBudget):
		return errAlertsBusy
	case errors.As(err, &invalid):
		return &httpError{http.StatusBadRequest, "invalid notification: " + invalid.Error()}
	case errors.As(err, &tooLarge):
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit)}
	case errors.As(err, &timeout) && timeout.Timeout():
		// A slow network, most likely: Alertmanager retries a 5xx, not
		// a 408.
		return &httpError{http.StatusServiceUnavailable, "body not received in time"}
	case errors.Is(err, io.EOF):
		return &httpError{http.StatusBadRequest, "malformed JSON: empty body"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errTrailingData), errors.As(err, &syntax), errors.As(err, &typ):
		// The decoders' messages start with their package's name, which
		// tells the sender nothing.
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "jsontext: "), "json: ")
		return &httpError{http.StatusBadRequest, "malformed JSON: " + msg}
	default:
		return &httpError{http.StatusBadRequest, "read body: " + err.Error()}
	}
}

// bodyReader notes when the request body has been read to its end: an
// answer that leaves it unread closes the connection.
type bodyReader struct {
	io.ReadCloser
	done bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done = true
	}
	return n, err
}

func (h *Handler) notify(r *http.Request, n *notification.Notification) *httpError {
	// ctx ends when Alertmanager hangs up: work not begun is pointless then.
	// Sends once begun must go on, so that what was sent is recorded and a
	// retry is answered from the ledger: that is the Notifier's to ensure.
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	h.o.Logger.Debug("webhook received", "notification", n.ID, "receiver", n.Receiver, "status", n.Status,
		"alerts", len(n.Alerts), "truncated_alerts", n.TruncatedAlerts, "remote", r.RemoteAddr)
	if n.TruncatedAlerts > 0 {
		h.o.Logger.Warn("notification has more alerts than it carries: the rest are counted in the SMS, not routed",
			"notification", n.ID, "alerts", len(n.Alerts), "truncated_alerts", n.TruncatedAlerts)
	}
	// One notification of a group at a time, as one Alertmanager sends
	// them to one webhook: its HA peer's copy, with an alert more or less,
	// arriving while the first is being sent would otherwise read whom the
	// group's alerts reached before the first is recorded, and page them
	// again as news. It waits, and then tells only what is new. The
	// waiting ends at half the deadline, so that what follows has at
	// least the other half: a retry comes sooner than a send cut short
	// with its outcome unknown.
	waitCtx, stopWaiting := context.WithTimeout(ctx, h.o.Timeout/2)
	defer stopWaiting()
	unlock, err := h.groups.Lock(waitCtx, groupLock(n, r.PathValue("route")))
	if err != nil {
		return &httpError{http.StatusServiceUnavailable, "another notification of the same group is still being sent: " + err.Error()}
	}
	defer unlock()
	// One notification of an alert at a time, too: an alert in two
	// groups (routes with continue, or two receivers), or a group sent to
	// two webhooks of one receiver (pinned routes), comes in both at
	// once, when it starts firing and when it resolves. Paged together,
	// each would read that its recipients were not told yet, and both
	// would tell them; one after the other, the second finds the first's
	// paged marks, as it would a minute later.
	unlockAlerts, err := h.alerts.LockAll(waitCtx, h.alertLocks(n))
	if err != nil {
		return &httpError{http.StatusServiceUnavailable, "another notification of the same alerts is still being sent: " + err.Error()}
	}
	defer unlockAlerts()
	if err := h.notifier.Notify(ctx, n, r.PathValue("route")); err != nil {
		// The notification was valid: whatever failed may work when
		// Alertmanager asks again.
		return &httpError{http.StatusServiceUnavailable, phone.Redact(err.Error())}
	}
	return nil
}

// groupLock is the key of the lock of n's group at the pinned route: a
// hash, since a group key may be as long as the body.
func groupLock(n *notification.Notification, route string) string {
	h := sha256.New()
	for _, s := range []string{n.Receiver, route, n.GroupKey} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return string(h.Sum(nil))
}

// alertLocks are the keys of the locks of n's alerts: each one's
// fingerprint, which Alertmanager sends as 16 hex digits, or a hash of
// it. Two alerts that share a key are only paged one after the other.
func (h *Handler) alertLocks(n *notification.Notification) []uint64 {
	keys := make([]uint64, len(n.Alerts))
	for i, a := range n.Alerts {
		switch fp, ok := hex64(a.Fingerprint); {
		case ok:
			keys[i] = fp
		case a.Fingerprint == "":
			// As the pager names such an alert: by its labels.
			keys[i] = model.LabelsToSignature(a.Labels)
		default:
			keys[i] = maphash.String(h.seed, a.Fingerprint)
		}
	}
	return keys
}

// hex64 reads 16 hex digits, as Alertmanager writes a fingerprint: a
// storm's ten thousand, where strconv.ParseUint took a percent of the
// notification.
func hex64(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	var v uint64
	for i := range len(s) {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// authorized compares credentials in constant time; hashing first keeps
// the comparison from leaking the secret's length.
func (h *Handler) authorized(r *http.Request) bool {
	equal := func(got, want string) bool {
		g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
		return subtle.ConstantTimeCompare(g[:], w[:]) == 1
	}
	switch {
	case h.o.BearerToken != "":
		// The scheme is case-insensitive (RFC 9110): Alertmanager sends
		// authorization.type as written, "bearer" too.
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		return ok && strings.EqualFold(scheme, "Bearer") && equal(token, h.o.BearerToken)
	case h.o.BasicAuthUsername != "":
		user, pass, ok := r.BasicAuth()
		// Both comparisons always run, so timing tells nothing either.
		userOK, passOK := equal(user, h.o.BasicAuthUsername), equal(pass, h.o.BasicAuthPassword)
		return ok && userOK && passOK
	default:
		return true
	}
}

// describe says in one line what is wrong with a notification, or with
// the part of it at prefix, that fails validation, with the JSON paths of
// the fields.
func describe(err error, prefix string) string {
	problems, err := validation.Problems(err, nil)
	if err != nil {
		return err.Error()
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		// The payload embeds Alertmanager's template data: its fields are
		// top-level keys in the JSON.
		p.Path = prefix + strings.TrimPrefix(p.Path, "Data.")
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "; ")
}
