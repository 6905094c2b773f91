// Package status serves the status page: what the service runs with and
// what it did lately, for an operator at a glance, rendered on the server
// without scripts or outside assets, and a form that previews the SMS of
// a pasted payload.
package status

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/account"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed style.css
	styleCSS string
)

// Options are what the page shows and where it reads it; every func is
// called at each request, so that the page shows the running state: the
// config after a reload too.
type Options struct {
	Build Build
	// Config is the config in use.
	Config func() *config.Config
	// Account is what the checks of the sipgate account found.
	Account func() account.State
	// Recent are the last deliveries.
	Recent *Recent
	// Owed are the digests owed, by number, as ledger.Outstanding
	// returns them: a digest in doubt included.
	Owed func() (map[string]ledger.Suppressed, error)
	// Preview previews a pasted payload; nil hides the form.
	Preview Previewer
	// MaxPayloadBytes bounds a pasted payload, as webhook.max_body_bytes
	// bounds the webhook's.
	MaxPayloadBytes int64
	// MaxPreviews bounds the previews made at once, each holding its form
	// (up to three times MaxPayloadBytes) in memory: a POST beyond them is
	// answered 503 before its form is read. DefaultMaxPreviews when 0.
	MaxPreviews int
	// Now is the clock of "on call now"; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Build is what the binary says of itself (prometheus/common/version).
type Build struct {
	Version, Revision, Branch, BuildUser, BuildDate, GoVersion string
}

// Previewer makes the SMS a webhook payload would produce, as
// POST /api/v1/render does, with nothing sent; route pins the payload to
// a route as /api/v1/alerts/NAME does ("": routed as the webhook routes).
// A payload that is not a notification the webhook would take is an
// error whose text says why; one that has StatusCode() int says which
// 4xx the webhook answers it with.
type Previewer func(ctx context.Context, payload io.Reader, route string) (*Preview, error)

// Preview is the SMS of a payload, each with its masked number, and what
// the service would log while making them.
type Preview struct {
	SMS   []PreviewSMS
	Notes []PreviewNote
}

// PreviewSMS is one SMS of a Preview.
type PreviewSMS struct {
	Route   string
	Contact string
	// Number is masked.
	Number string
	Text   string
	// Size says what the SMS costs, in words: encoding, characters,
	// segments.
	Size string
	// Cut says what the fitter cut or changed, "" for nothing.
	Cut                      string
	Alerts, Firing, Resolved int
	BypassLimits             bool
}

// PreviewNote is one log record of a Preview.
type PreviewNote struct {
	Level, Message string
	// Attrs are the record's attributes as key=value, numbers masked.
	Attrs string
}

// DefaultMaxPreviews is Options.MaxPreviews when it is 0.
const DefaultMaxPreviews = 4

// Handler serves the page: GET shows it, POST previews the payload of its
// form and shows the page with the result.
type Handler struct {
	o    Options
	page *template.Template
	csp  string
	// previews holds a token for each POST being served.
	previews chan struct{}
}

// New returns the page's handler.
func New(o Options) (*Handler, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recent == nil {
		o.Recent = NewRecent(RecentDeliveries)
	}
	page, err := template.New("page").Funcs(funcs).Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	// The style is inline, allowed by its hash: nothing else may load,
	// run or be posted anywhere but here.
	sum := sha256.Sum256([]byte(styleCSS))
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	if o.MaxPreviews <= 0 {
		o.MaxPreviews = DefaultMaxPreviews
	}
	return &Handler{o: o, page: page, csp: csp, previews: make(chan struct{}, o.MaxPreviews)}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var form *previewForm
	code := http.StatusOK
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if h.o.Preview == nil {
			http.Error(w, "no preview here", http.StatusMethodNotAllowed)
			return
		}
		// The token is held until the page with the payload is written.
		select {
		case h.previews <- struct{}{}:
			defer func() { <-h.previews }()
			form, code = h.preview(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			form, code = &previewForm{Err: "too many previews at once, retry later"}, http.StatusServiceUnavailable
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	var body bytes.Buffer
	if err := h.page.Execute(&body, h.view(form)); err != nil {
		h.o.Logger.Error("render the status page", "err", err)
		http.Error(w, "status page failed: see the log", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body.Bytes())
	}
}

// previewForm is the preview form as posted, and its outcome.
type previewForm struct {
	Payload, Route string
	Result         *Preview
	// Err says why there is no result.
	Err string
}

// maxEcho bounds the payload the page shows again in its form: escaped
// for HTML it may grow fivefold, and a page is built whole before it is
// sent, so a storm's payload would cost a page of tens of megabytes.
const maxEcho = 256 << 10

// Echo is the payload to show again in the form: none past maxEcho.
func (f *previewForm) Echo() string {
	if len(f.Payload) > maxEcho {
		return ""
	}
	return f.Payload
}

// formOverhead is room for the form's other fields and its encoding.
const formOverhead = 64 << 10

// preview reads the posted form and previews its payload. The answer's
// status is 200 with a result, else the 4xx or 5xx of the failure.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request) (*previewForm, int) {
	// Percent-encoding takes up to three bytes per byte of the payload.
	r.Body = http.MaxBytesReader(w, r.Body, 3*h.o.MaxPayloadBytes+formOverhead)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &previewForm{Err: fmt.Sprintf("payload too large: more than %d bytes", h.o.MaxPayloadBytes)}, http.StatusRequestEntityTooLarge
		}
		return &previewForm{Err: "form not readable: " + err.Error()}, http.StatusBadRequest
	}
	f := &previewForm{Payload: r.PostForm.Get("payload"), Route: r.PostForm.Get("route")}
	if int64(len(f.Payload)) > h.o.MaxPayloadBytes {
		// Characters a form need not encode pass the limit above as
		// they are: the payload itself is checked too.
		return &previewForm{Err: fmt.Sprintf("payload too large: more than %d bytes", h.o.MaxPayloadBytes), Route: f.Route}, http.StatusRequestEntityTooLarge
	}
	if strings.TrimSpace(f.Payload) == "" {
		f.Err = "paste an Alertmanager webhook payload (JSON) first"
		return f, http.StatusBadRequest
	}
	result, err := h.o.Preview(r.Context(), strings.NewReader(f.Payload), f.Route)
	if err != nil {
		f.Err = err.Error()
		var coded interface{ StatusCode() int }
		if errors.As(err, &coded) {
			return f, coded.StatusCode()
		}
		h.o.Logger.Warn("status page preview failed", "err", err)
		return f, http.StatusInternalServerError
	}
	f.Result = result
	return f, http.StatusOK
}
