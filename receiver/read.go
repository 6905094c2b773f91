package receiver

import (
	"io"
	"net/http"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// Reader reads notifications exactly as the webhook does (the same
// decoder, bounds and checks) for the other ways a payload comes in: the
// render preview, over HTTP and on the command line. It is safe for
// concurrent use.
type Reader struct {
	validate     *validator.Validate
	maxBodyBytes int64
	maxAlerts    int
}

// NewReader returns a Reader that takes at most maxBodyBytes of a body and
// keeps at most maxAlerts alerts (0: all), as Options does.
func NewReader(maxBodyBytes int64, maxAlerts int) *Reader {
	return &Reader{validate: newValidator(), maxBodyBytes: maxBodyBytes, maxAlerts: maxAlerts}
}

// ReadError is a body that is not a notification the webhook would take:
// the status the webhook answers it with, and why, in one line.
type ReadError struct {
	Code   int
	Reason string
}

func (e *ReadError) Error() string { return e.Reason }

// Read decodes and checks one notification from r, received now, as the
// webhook takes it: schedules page whoever is on call now. w, when not
// nil, is told to close the connection once the body is too large, as
// http.MaxBytesReader does. Every error is a *ReadError.
func (rd *Reader) Read(w http.ResponseWriter, r io.Reader) (*notification.Notification, error) {
	var body io.ReadCloser = io.NopCloser(r)
	if rc, ok := r.(io.ReadCloser); ok {
		body = rc
	}
	n, herr := read(http.MaxBytesReader(w, body, rd.maxBodyBytes), rd.validate, rd.maxAlerts, nil)
	if herr != nil {
		return nil, &ReadError{Code: herr.code, Reason: herr.reason}
	}
	n.ID, n.Received = notification.NewID(), time.Now()
	return n, nil
}
