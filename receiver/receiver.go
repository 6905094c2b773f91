// Package receiver turns Alertmanager webhook requests into notifications,
// and the outcome of paging back into the HTTP status Alertmanager acts on:
// 2xx done, 5xx retry, 4xx the request itself is wrong.
package receiver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/metrics"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/validation"
)

// Notifier pages the people a notification concerns. route, when not
// empty, pins the notification to that named route. An error wrapping
// notification.ErrUnknownRoute or notification.ErrUnmatched says the
// notification itself cannot be handled; any other, that a retry may help.
type Notifier interface {
	Notify(ctx context.Context, n *notification.Notification, route string) error
}

// Options configure a Handler.
type Options struct {
	// MaxBodyBytes bounds the request body; larger ones get 413.
	MaxBodyBytes int64
	// Timeout bounds the paging of one notification.
	Timeout time.Duration
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
}

// New returns the webhook handler.
func New(n Notifier, o Options) *Handler {
	h := &Handler{notifier: n, o: o, validate: newValidator(), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/alerts", h.serve)
	h.mux.HandleFunc("POST /api/v1/alerts/{route}", h.serve)
	return h
}

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
		"Alerts":   "required,min=1,dive",
	}, template.Data{})
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

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	id := notification.NewID()
	n, herr := h.decode(w, r)
	receiver := ""
	if n != nil {
		n.ID = id
		receiver = n.Receiver
	}
	if herr == nil {
		herr = h.notify(r, n)
	}
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
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, reason)
}

func (h *Handler) decode(w http.ResponseWriter, r *http.Request) (*notification.Notification, *httpError) {
	if !h.authorized(r) {
		return nil, &httpError{http.StatusUnauthorized, "unauthorized"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not application/json", r.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit)}
		}
		return nil, &httpError{http.StatusBadRequest, "read body: " + err.Error()}
	}
	var n notification.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, &httpError{http.StatusBadRequest, "malformed JSON: " + err.Error()}
	}
	if n.Version != notification.Version {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("unsupported webhook version %q, want %q", n.Version, notification.Version)}
	}
	if n.Data == nil {
		return nil, &httpError{http.StatusBadRequest, "no alerts in notification"}
	}
	if err := h.validate.Struct(&n); err != nil {
		return &n, &httpError{http.StatusBadRequest, "invalid notification: " + describe(err)}
	}
	for _, a := range n.Alerts {
		h.o.Metrics.AlertsReceived.WithLabelValues(a.Status).Inc()
	}
	return &n, nil
}

func (h *Handler) notify(r *http.Request, n *notification.Notification) *httpError {
	// Alertmanager may give up on us before we are done; the sends go on
	// anyway so that what was sent is recorded and its retry is answered
	// from the ledger instead of paging twice.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.Timeout)
	defer cancel()
	h.o.Logger.Debug("webhook received", "notification", n.ID, "receiver", n.Receiver, "status", n.Status,
		"alerts", len(n.Alerts), "truncated_alerts", n.TruncatedAlerts, "remote", r.RemoteAddr)
	err := h.notifier.Notify(ctx, n, r.PathValue("route"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, notification.ErrUnknownRoute):
		return &httpError{http.StatusNotFound, phone.Redact(err.Error())}
	case errors.Is(err, notification.ErrUnmatched):
		return &httpError{http.StatusUnprocessableEntity, phone.Redact(err.Error())}
	default:
		// Everything else may work when Alertmanager asks again.
		return &httpError{http.StatusServiceUnavailable, phone.Redact(err.Error())}
	}
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
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && equal(token, h.o.BearerToken)
	case h.o.BasicAuthUsername != "":
		user, pass, ok := r.BasicAuth()
		// Both comparisons always run, so timing tells nothing either.
		userOK, passOK := equal(user, h.o.BasicAuthUsername), equal(pass, h.o.BasicAuthPassword)
		return ok && userOK && passOK
	default:
		return true
	}
}

// describe says in one line what is wrong with a notification that fails
// validation, with the JSON paths of the fields.
func describe(err error) string {
	problems, err := validation.Problems(err, nil)
	if err != nil {
		return err.Error()
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		// The payload embeds Alertmanager's template data: its fields are
		// top-level keys in the JSON.
		p.Path = strings.TrimPrefix(p.Path, "Data.")
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "; ")
}
