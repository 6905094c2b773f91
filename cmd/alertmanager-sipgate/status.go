package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/status"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/receiver"
)

// statusPage is the status page at /, reading the running service: the
// config in use, the account checks, the last deliveries, the ledger's
// owed digests, and a preview form made as POST /api/v1/render makes its
// answer.
func (a *app) statusPage() (*status.Handler, error) {
	return status.New(status.Options{
		Build: status.Build{
			Version: version.Version, Revision: version.Revision, Branch: version.Branch,
			BuildUser: version.BuildUser, BuildDate: version.BuildDate, GoVersion: version.GoVersion,
		},
		Config:          a.pagers.Config, // sipgate as started: a reload keeps it
		Account:         a.account.State,
		Recent:          a.recent,
		Owed:            a.ledger.Outstanding,
		Preview:         a.previewPayload(),
		MaxPayloadBytes: a.cfg.Webhook.MaxBodyBytes,
		MaxPreviews:     maxRendersInFlight,
		Logger:          a.logger,
	})
}

// previewPayload is the status page's preview: the payload read as the
// webhook reads it, previewed with the current config and the ledger read
// only, as /api/v1/render does. The page makes at most
// maxRendersInFlight at once (status.Options.MaxPreviews), counted before
// it reads the form.
func (a *app) previewPayload() status.Previewer {
	reader := receiver.NewReader(a.cfg.Webhook.MaxBodyBytes, a.cfg.Webhook.MaxAlerts)
	timeout := time.Duration(a.cfg.Webhook.Timeout)
	return func(ctx context.Context, payload io.Reader, route string) (*status.Preview, error) {
		n, err := reader.Read(nil, payload)
		var re *receiver.ReadError
		if errors.As(err, &re) {
			return nil, previewError{re.Code, re.Reason}
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		p, err := a.pagers.Preview(ctx, n, route)
		if err != nil {
			a.logger.Warn("status page preview failed", "err", err)
			return nil, errors.New(phone.Redact(err.Error()))
		}
		return statusPreview(newRendered(p)), nil
	}
}

// previewError is a preview refused with an HTTP status: a payload the
// webhook would not take.
type previewError struct {
	code   int
	reason string
}

func (e previewError) Error() string   { return e.reason }
func (e previewError) StatusCode() int { return e.code }

// statusPreview is a preview as the status page shows it, in the words
// of the render command.
func statusPreview(r *rendered) *status.Preview {
	out := &status.Preview{}
	for _, s := range r.SMS {
		cut := s.Cut
		switch {
		case s.Transliterated:
			cut = strings.TrimPrefix(cut+"; transliterated to GSM-7", "; ")
		case s.TransliterationSkipped:
			cut = strings.TrimPrefix(cut+"; not transliterated: too much would become '?'", "; ")
		}
		out.SMS = append(out.SMS, status.PreviewSMS{
			Route: s.Route, Contact: s.Contact, Number: s.Number, Text: s.Text, Size: describeSize(s), Cut: cut,
			Alerts: s.Alerts, Firing: s.Firing, Resolved: s.Resolved, BypassLimits: s.BypassLimits,
		})
	}
	for _, n := range r.Notes {
		out.Notes = append(out.Notes, status.PreviewNote{
			Level: n.Level, Message: n.Message, Attrs: strings.TrimSuffix(strings.TrimPrefix(describeAttrs(n.Attrs), " ("), ")"),
		})
	}
	return out
}
