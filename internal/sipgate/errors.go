package sipgate

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// codeNoResponse is the "code" label of a request that got no response.
const codeNoResponse = "error"

// maxBody is how much of an error response's body an Error quotes: enough
// for sipgate's explanation, too little to flood a log line.
const maxBody = 200

// errBuild marks a request that cannot even be built, such as one for an
// invalid base URL; no retry fixes that.
var errBuild = errors.New("cannot build the sipgate request")

// Error is every failure of SendSMS other than the caller's own context
// ending. It is classified here, where the status codes are understood, so
// that callers ask Temporary, RetryAfter, Reason and Unknown instead of
// parsing codes.
type Error struct {
	StatusCode int           // HTTP status; 0 when no response came
	Retry      time.Duration // from the Retry-After header, 0 if none
	Err        error         // the transport error, nil when a response came
	// Body is the head of the response body, on one line, for statuses
	// whose body explains them.
	Body string
	// Written is set when the whole request had been written before the
	// transport failed (a timeout, a reset connection): see Unknown.
	Written bool
}

// Error says what went wrong and, where it can, what the operator should
// check. It never contains the password.
func (e *Error) Error() string {
	var msg string
	switch code := e.StatusCode; {
	case code == 0 && e.Unknown():
		return "sipgate request failed after it was sent, sipgate may have accepted the SMS: " + e.Err.Error()
	case code == 0:
		return "sipgate request failed: " + e.Err.Error()
	case code == http.StatusBadRequest:
		msg = "sipgate rejected the request as invalid (400)" + e.quote()
	case code == http.StatusUnauthorized:
		msg = "sipgate rejected the credentials (401)"
	case code == http.StatusPaymentRequired:
		msg = "sipgate account balance is too low (402)"
	case code == http.StatusForbidden:
		msg = "sipgate denied the SMS extension: check sms_id and that SMS is booked (403)"
	case code == http.StatusNotFound:
		msg = "sipgate endpoint not found: check the base URL (404)"
	case code == http.StatusMethodNotAllowed:
		msg = "sipgate does not allow the method on this endpoint: check the base URL (405)"
	case code == http.StatusRequestTimeout:
		msg = "sipgate timed out reading the request (408)"
	case code == http.StatusUnsupportedMediaType:
		msg = "sipgate rejected the content type (415)"
	case code == http.StatusTooManyRequests:
		msg = "sipgate rate limit reached (429)"
	case code >= 500:
		msg = fmt.Sprintf("sipgate server error (%d)", code)
	default:
		msg = fmt.Sprintf("sipgate answered unexpected status %d%s", code, e.quote())
	}
	if e.Retry > 0 {
		msg += fmt.Sprintf(", retry after %s", e.Retry)
	}
	return msg
}

func (e *Error) quote() string {
	if e.Body == "" {
		return ""
	}
	return ": " + e.Body
}

// Unwrap returns the transport error, if any, so that errors.Is sees
// timeouts and refused connections.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether sending the same SMS again may succeed: after a
// transport failure, a timeout, rate limiting or a server error. Other 4xx
// mean the request, credentials or account must change first.
func (e *Error) Temporary() bool {
	switch code := e.StatusCode; {
	case code == 0:
		return !errors.Is(e.Err, errBuild)
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	default:
		return code >= 500
	}
}

// RetryAfter is how long sipgate asked the caller to wait, 0 if it did not.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

// Unknown reports whether sipgate may have accepted the SMS although the
// call failed: the request was written in full, then no answer came (a
// timeout, a connection reset). Sending it again may page twice; sipgate's
// history can tell (FindSMS). Otherwise the SMS was certainly not sent:
// sipgate answered a status, or the request never went out in full
// (connection refused, DNS, TLS, a request that cannot be built).
func (e *Error) Unknown() bool { return e.StatusCode == 0 && e.Written }

// contextError is SendSMS's error when the caller's context ended first.
// It is no *Error, because the caller gave up, not sipgate; but it still
// tells whether the request had gone out by then.
type contextError struct {
	err     error // ctx.Err()
	written bool
}

func (e *contextError) Error() string {
	if e.written {
		return "sipgate: send SMS: gave up waiting for the answer, sipgate may have accepted the SMS: " + e.err.Error()
	}
	return "sipgate: send SMS: " + e.err.Error()
}

// Unwrap returns ctx.Err(), so that errors.Is sees the deadline or the
// cancellation.
func (e *contextError) Unwrap() error { return e.err }

// Unknown reports whether sipgate may have accepted the SMS: the request
// was written in full before the context ended. See (*Error).Unknown.
func (e *contextError) Unknown() bool { return e.written }

// Reasons an SMS failed, the values of Reason: few, so that they can be a
// metric label, and named for what the operator has to look at.
const (
	reasonAuth        = "auth"         // 401, 403: credentials, token scope or the booked SMS extension
	reasonBalance     = "balance"      // 402: the account needs money
	reasonRateLimited = "rate_limited" // 429
	reasonClient      = "client"       // any other 4xx (408 too, though temporary), or a request that could not be built
	reasonServer      = "server"       // 5xx
	reasonTransport   = "transport"    // no response came
)

// Reason says in one word why the SMS failed, as a bounded metric label.
// A request that could not be built (an invalid base URL) is "client": no
// response came, but it is the request, not the network, that must change.
func (e *Error) Reason() string {
	switch code := e.StatusCode; {
	case code == 0 && errors.Is(e.Err, errBuild):
		return reasonClient
	case code == 0:
		return reasonTransport
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return reasonAuth
	case code == http.StatusPaymentRequired:
		return reasonBalance
	case code == http.StatusTooManyRequests:
		return reasonRateLimited
	case code >= 500:
		return reasonServer
	default:
		return reasonClient
	}
}

// Code is the HTTP status as a metric label, "error" when no response
// came: the values of the request duration's "code" label.
func (e *Error) Code() string {
	if e.StatusCode == 0 {
		return codeNoResponse
	}
	return strconv.Itoa(e.StatusCode)
}
