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

// The operations whose failures an Error reports: the values of Error.Op.
const (
	OpSend     = "send SMS"          // SendSMS
	OpHistory  = "search history"    // FindSMS
	OpUserinfo = "check credentials" // Userinfo
	OpBalance  = "read balance"      // Balance
)

// Error is every failure of SendSMS, Userinfo and Balance, and every
// failure of FindSMS that is not ErrHistoryIncomplete, other than the
// caller's own context ending. It is classified here, where the status
// codes are understood, so that callers ask Temporary, RetryAfter, Reason,
// Code and Unknown instead of parsing codes. The classification is the
// same for every operation; only the wording differs, since the same
// status can mean something else to each: a 403 is a denied SMS extension
// to a send and a token without the scope to read the history or the
// balance.
type Error struct {
	Op         string        // OpSend, OpHistory, OpUserinfo or OpBalance: which operation failed
	StatusCode int           // HTTP status; 0 when no response came
	Retry      time.Duration // from the Retry-After header, 0 if none
	// Err is the transport error, or why a 2xx answer could not be read;
	// nil when an error status came.
	Err error
	// Body is the head of the response body, on one line, numbers
	// masked, for statuses whose body explains them.
	Body string
	// Written is set when the whole SMS request had been written before
	// the transport failed (a timeout, a reset connection): see Unknown.
	Written bool
}

// wording is a text in the words of each operation.
type wording struct{ send, history, userinfo, balance string }

// of returns the text for op.
func (w wording) of(op string) string {
	switch op {
	case OpHistory:
		return w.history
	case OpUserinfo:
		return w.userinfo
	case OpBalance:
		return w.balance
	}
	return w.send
}

// statusWording says what a status means to each operation, for the
// statuses the operator needs explained; "" where an operation words the
// status like any other (otherWording). The status follows in
// parentheses, except after 0, no response, and 200, any 2xx whose answer
// could not be read: the error follows those. 300 stands for any 3xx, 500
// for any 5xx.
func statusWording() map[int]wording {
	return map[int]wording{
		0: {send: "sipgate request failed", history: "sipgate history request failed",
			userinfo: "sipgate credentials check failed", balance: "sipgate balance request failed"},
		http.StatusOK: {send: "cannot read sipgate's answer", history: "cannot read sipgate's history answer",
			userinfo: "cannot read sipgate's account answer", balance: "cannot read sipgate's balance answer"},
		http.StatusMultipleChoices: {send: "sipgate redirected the request, which is not followed: check the base URL",
			history:  "sipgate redirected the history request, which is not followed: check the base URL",
			userinfo: "sipgate redirected the credentials check, which is not followed: check the base URL",
			balance:  "sipgate redirected the balance request, which is not followed: check the base URL"},
		http.StatusBadRequest: {send: "sipgate rejected the request as invalid"},
		http.StatusUnauthorized: {send: "sipgate rejected the credentials", history: "sipgate rejected the credentials reading the history",
			userinfo: "sipgate rejected the credentials", balance: "sipgate rejected the credentials reading the balance"},
		http.StatusPaymentRequired: {send: "sipgate account balance is too low"},
		http.StatusForbidden: {send: "sipgate denied the SMS extension: check sms_id and that SMS is booked",
			history:  "sipgate denied reading the history: the token needs the history read scope",
			userinfo: "sipgate denied reading the account behind the credentials: check the token's scopes",
			balance:  "sipgate denied reading the balance: the token needs the balance read scope"},
		http.StatusNotFound:             {send: "sipgate endpoint not found: check the base URL"},
		http.StatusMethodNotAllowed:     {send: "sipgate does not allow the method on this endpoint: check the base URL"},
		http.StatusRequestTimeout:       {send: "sipgate timed out reading the request"},
		http.StatusUnsupportedMediaType: {send: "sipgate rejected the content type"},
		http.StatusTooManyRequests: {send: "sipgate rate limit reached", history: "sipgate rate limit reached reading the history",
			userinfo: "sipgate rate limit reached checking the credentials", balance: "sipgate rate limit reached reading the balance"},
		http.StatusInternalServerError: {send: "sipgate server error", history: "sipgate server error reading the history",
			userinfo: "sipgate server error checking the credentials", balance: "sipgate server error reading the balance"},
		http.StatusGatewayTimeout: {send: "a gateway before sipgate gave up waiting for its answer: sipgate may have accepted the SMS",
			history: "a gateway before sipgate gave up waiting for the history", userinfo: "a gateway before sipgate gave up waiting for the credentials check",
			balance: "a gateway before sipgate gave up waiting for the balance"},
	}
}

// otherWording is how each operation words a status it does not explain.
func otherWording() wording {
	return wording{
		send:     "sipgate answered unexpected status %d",
		history:  "sipgate answered status %d to the history request",
		userinfo: "sipgate answered status %d to the credentials check",
		balance:  "sipgate answered status %d to the balance request",
	}
}

// Error says what went wrong and, where it can, what the operator should
// check. It never contains the password, nor the number a search was for.
// The body is quoted for a 400 and for statuses it does not explain.
func (e *Error) Error() string {
	code := e.StatusCode
	if code == 0 && e.Unknown() {
		return "sipgate request failed after it was sent, sipgate may have accepted the SMS: " + e.Err.Error()
	}
	wordedAs := code
	switch {
	case code >= 200 && code < 300:
		wordedAs = http.StatusOK
	case code >= 300 && code < 400:
		wordedAs = http.StatusMultipleChoices
	case code >= 500 && code != http.StatusGatewayTimeout:
		wordedAs = http.StatusInternalServerError
	}
	text := statusWording()[wordedAs].of(e.Op)
	var msg string
	switch {
	case code == 0, wordedAs == http.StatusOK:
		return text + ": " + e.Err.Error()
	case text == "":
		msg = fmt.Sprintf(otherWording().of(e.Op), code)
	default:
		msg = fmt.Sprintf("%s (%d)", text, code)
	}
	if (code == http.StatusBadRequest || text == "") && e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Retry > 0 {
		msg += fmt.Sprintf(", retry after %s", e.Retry)
	}
	return msg
}

// Unwrap returns the transport or decoding error, if any, so that
// errors.Is sees timeouts and refused connections.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the same request may succeed later: after a
// transport failure, a timeout, rate limiting, a server error or a
// redirect (a proxy or a move before sipgate, which did not take the
// request, not a verdict on it). Other 4xx mean the request, credentials,
// token scope or account must change first.
func (e *Error) Temporary() bool {
	switch code := e.StatusCode; {
	case code == 0:
		return !errors.Is(e.Err, errBuild)
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	case code >= 300 && code < 400:
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
// (connection refused, DNS, TLS, a request that cannot be built). A
// search of the history and a read of the account send nothing: always
// false.
//
// A 504 of a gateway before sipgate is unknown too: the gateway gave up
// waiting for sipgate's answer, and sipgate may well have taken the SMS
// meanwhile; taken for not sent, each 504 sent it again
// (TestGatewayTimeoutAfterSipgateTookItIsNotSentAgain). A 502 counts as
// not sent: it mostly means that sipgate could not be reached
// (TestGatewayErrorsAreRetriedNotGivenUp).
func (e *Error) Unknown() bool {
	return e.StatusCode == 0 && e.Written || e.StatusCode == http.StatusGatewayTimeout && e.Op == OpSend
}

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

// Reasons a request failed, the values of Reason: few, so that they can be a
// metric label, and named for what the operator has to look at.
const (
	reasonAuth        = "auth"         // 401, 403: credentials, token scope or the booked SMS extension
	reasonBalance     = "balance"      // 402: the account needs money
	reasonRateLimited = "rate_limited" // 429
	reasonClient      = "client"       // any other 4xx (408 too, though temporary), or a request that could not be built
	reasonServer      = "server"       // 5xx, or a 2xx answer that cannot be read
	reasonTransport   = "transport"    // no response came
)

// Reason says in one word why the request failed, as a bounded metric
// label. A request that could not be built (an invalid base URL) is
// "client": no response came, but it is the request, not the network, that
// must change. A 2xx answer that cannot be read is "server".
func (e *Error) Reason() string {
	switch code := e.StatusCode; {
	case code == 0 && errors.Is(e.Err, errBuild):
		return reasonClient
	case code == 0:
		return reasonTransport
	case code >= 200 && code < 300:
		return reasonServer
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
