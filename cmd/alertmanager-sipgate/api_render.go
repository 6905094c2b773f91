package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/pager"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// maxRendersInFlight bounds the previews made at once: each runs the
// templates as a notification does, and a preview is never urgent.
const maxRendersInFlight = 4

// Preview previews n with the pager of the current config and the
// service's ledger, read only.
func (r *reloader) Preview(ctx context.Context, n *notification.Notification, route string) (*pager.Preview, error) {
	return r.current.Load().pager.Preview(ctx, n, route)
}

// renderHandler serves POST /api/v1/render[?route=NAME][&at=TIME]: the
// body is a webhook payload, read as the webhook reads it (size and alert
// bounds, checks), and the answer is the SMS each recipient would get, as
// JSON, with masked numbers; as if it arrived at the RFC 3339 time at,
// else now. Nothing is sent and the ledger is not written. It is behind
// the --web.config.file auth, as every path is.
func (a *app) renderHandler() http.Handler {
	reader := receiver.NewReader(a.cfg.Webhook.MaxBodyBytes, a.cfg.Webhook.MaxAlerts)
	slots := make(chan struct{}, maxRendersInFlight)
	timeout := time.Duration(a.cfg.Webhook.Timeout)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", retryAfterBusy)
			writeJSON(w, http.StatusServiceUnavailable, apiError{"too many previews at once, retry later"})
			return
		}
		var at time.Time
		if v := r.URL.Query().Get("at"); v != "" {
			var err error
			if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
				writeJSON(w, http.StatusBadRequest, apiError{"at: want an RFC 3339 time such as 2024-12-24T03:00:00+01:00"})
				return
			}
		}
		n, err := reader.Read(w, r.Body)
		var re *receiver.ReadError
		if errors.As(err, &re) {
			writeJSON(w, re.Code, apiError{re.Reason})
			return
		}
		if !at.IsZero() {
			n.Received = at
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		p, err := a.pagers.Preview(ctx, n, r.URL.Query().Get("route"))
		if err != nil {
			a.logger.Warn("render preview failed", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, apiError{phone.Redact(err.Error())})
			return
		}
		writeJSON(w, http.StatusOK, newRendered(p))
	})
}

// retryAfterBusy is the Retry-After of a request turned away as busy.
const retryAfterBusy = "1"

// apiError is the JSON body of an API error.
type apiError struct {
	Error string `json:"error"`
}

// writeJSON answers v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The status is out; a client gone now is nobody's concern.
	_ = json.NewEncoder(w).Encode(v)
}
