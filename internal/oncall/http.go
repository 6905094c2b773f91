package oncall

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// maxParam bounds the query values a request may send, so that an answer
// never quotes much of what a client sent.
const maxParam = 64

// Handler serves GET /api/v1/oncall: the Listing as JSON, of the config
// that current returns at the time of the request (so a reload shows at
// once), at now() or at the RFC 3339 time of ?at=, for all schedules or
// the one of ?schedule=. A bad at is 400, an unknown schedule 404, each
// with a one-line reason.
func Handler(current func() *config.Config, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		at := now()
		if v := q.Get("at"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || len(v) > maxParam {
				http.Error(w, "at: want an RFC 3339 time such as 2024-03-04T09:00:00+01:00", http.StatusBadRequest)
				return
			}
			at = t
		}
		only := q.Get("schedule")
		if len(only) > maxParam {
			http.Error(w, "unknown schedule", http.StatusNotFound)
			return
		}
		l, err := List(current(), at, only)
		var unknown *UnknownScheduleError
		switch {
		case errors.As(err, &unknown):
			http.Error(w, "unknown schedule", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "listing failed", http.StatusInternalServerError)
			return
		}
		// Encoded before the answer starts: a hand-off past year 9999
		// (or before year 0) cannot be written as JSON.
		body, err := json.MarshalIndent(l, "", "  ")
		if err != nil {
			http.Error(w, "at: too close to year 0 or 9999 to list the hand-offs around it", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The answer is on its way: a write error is the client's going.
		_, _ = w.Write(append(body, '\n'))
	})
}
