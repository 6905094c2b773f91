package delivery

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Outcome is how the delivery of one SMS ended. Control flow switches on
// it; its String is only the metric label.
type Outcome int

// The outcomes of one SMS; the zero Outcome is none of them.
const (
	// Accepted: sipgate took the SMS.
	Accepted Outcome = iota + 1
	// Deduplicated: delivered before for the same notification and
	// recipient (a retry, or the other replica of an HA pair): not sent
	// again.
	Deduplicated
	// Suppressed: a flood limit held the SMS back; its alerts are owed to
	// the recipient in a digest.
	Suppressed
	// FailedPermanent: not sent, and a retry cannot help.
	FailedPermanent
	// FailedRetryable: not sent, but a retry of the notification may help.
	FailedRetryable
	// Unknown: sipgate may or may not have taken the SMS, because no
	// answer came after the request went out, or such an earlier send is
	// not settled yet. Nothing is sent again in this notification: its
	// retry settles the SMS first (see settle.go).
	Unknown
	// GivenUp: an earlier send's outcome stayed unknown, sipgate's history
	// does not show it and no resend is allowed: counted as delivered,
	// although it may not have arrived.
	GivenUp
)

// String is the outcome's value of the "result" label.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Deduplicated:
		return "deduplicated"
	case Suppressed:
		return "suppressed"
	case FailedPermanent:
		return "failed_permanent"
	case FailedRetryable:
		return "failed_retryable"
	case Unknown:
		return "unknown"
	case GivenUp:
		return "given_up"
	default:
		return "Outcome(" + strconv.Itoa(int(o)) + ")"
	}
}

func (o Outcome) failed() bool { return o == FailedPermanent || o == FailedRetryable }

// failure is the outcome of a send that returned err.
func failure(err error) Outcome {
	if permanent(err) {
		return FailedPermanent
	}
	return FailedRetryable
}

// What delivery asks of a failure, anywhere in its chain (errors.As). The
// sipgate client's errors answer all five; any other error may answer some.
type (
	// unknownError says whether the SMS may have been sent although the
	// send failed: the request went out, then no answer came.
	unknownError interface{ Unknown() bool }
	// temporaryError says whether the same send may succeed later.
	temporaryError interface{ Temporary() bool }
	// retryAfterError says how long the other side asked us to wait.
	retryAfterError interface{ RetryAfter() time.Duration }
	// reasonError says in one word, from a small set, why the send failed.
	reasonError interface{ Reason() string }
	// codeError names the HTTP status, for the retries' "reason" label.
	codeError interface{ Code() string }
)

// unknown reports whether the error says that the SMS may have been sent.
// An error that does not say counts as certainly not sent, as every error
// did before the difference was known: at worst one unforeseen error pages
// twice, never not at all.
func unknown(err error) bool {
	var u unknownError
	return errors.As(err, &u) && u.Unknown()
}

// permanent reports whether the error says a retry cannot help. An error
// that does not say counts as temporary, so that no page is lost to an
// error nobody foresaw.
func permanent(err error) bool {
	var t temporaryError
	return errors.As(err, &t) && !t.Temporary()
}

// retryAfter is the least wait before a retry that the error asks for.
func retryAfter(err error) time.Duration {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0
}

// Reasons of failures that delivery itself tells, besides those of the
// sender (sipgate's are auth, balance, rate_limited, client, server and
// transport).
const (
	reasonTimeout  = "timeout"  // our own deadline passed first
	reasonCanceled = "canceled" // our own context was canceled (shutdown)
	reasonLedger   = "ledger"   // the ledger failed: check the storage
	reasonOther    = "other"    // nobody classified the error
)

// reason is the "reason" label of a failure: the one the error gives, else
// whether our own context ended, else "other". The error's own reason
// wins: a send that kept failing with 503 until the deadline passed is a
// "server" failure, not a "timeout".
func reason(err error) string {
	var r reasonError
	switch {
	case errors.As(err, &r):
		return r.Reason()
	case errors.Is(err, context.DeadlineExceeded):
		return reasonTimeout
	case errors.Is(err, context.Canceled):
		return reasonCanceled
	default:
		return reasonOther
	}
}

// code is the retries' "reason" label: the HTTP status, or "error" when
// the error names none (no response came).
func code(err error) string {
	var c codeError
	if errors.As(err, &c) {
		return c.Code()
	}
	return "error"
}

// ledgerError marks a failure of the ledger. It says nothing about
// Temporary, so it counts as temporary: a retry may find the disk well.
type ledgerError struct{ err error }

func (e ledgerError) Error() string  { return e.err.Error() }
func (e ledgerError) Unwrap() error  { return e.err }
func (e ledgerError) Reason() string { return reasonLedger }
