package delivery

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

func TestOutcomeLabels(t *testing.T) {
	for o, want := range map[Outcome]string{
		Accepted:        "accepted",
		Deduplicated:    "deduplicated",
		Suppressed:      "suppressed",
		FailedPermanent: "failed_permanent",
		FailedRetryable: "failed_retryable",
		Unknown:         "unknown",
		GivenUp:         "given_up",
		0:               "Outcome(0)",
	} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

type senderFunc func(ctx context.Context, sms sipgate.SMS) error

func (f senderFunc) SendSMS(ctx context.Context, sms sipgate.SMS) error { return f(ctx, sms) }

// classified is an error of some other sender that answers what delivery
// asks, as sipgate's errors do: delivery must go by the answers, not by the
// error's type.
type classified struct {
	temporary bool
	reason    string
}

func (e classified) Error() string   { return "classified: " + e.reason }
func (e classified) Temporary() bool { return e.temporary }
func (e classified) Reason() string  { return e.reason }

// failingLedger is a ledger whose lookups fail.
type failingLedger struct{ *ledger.Ledger }

func (failingLedger) Delivered(string) (bool, error) {
	return false, errors.New("ledger lookup: input/output error")
}

func TestFailuresAreClassifiedByBehaviour(t *testing.T) {
	tests := []struct {
		name       string
		fail       int    // status the fake sipgate answers
		retryAfter string // its Retry-After header
		// sendErr, when set, is what the sender returns instead of asking
		// the fake sipgate.
		sendErr error
		// cancel ends the context right after the first send, so that
		// a temporary failure is not retried.
		cancel       bool
		brokenLedger bool
		want         Outcome
		wantReason   string
	}{
		{name: "sipgate balance", fail: 402, want: FailedPermanent, wantReason: "balance"},
		{name: "sipgate credentials", fail: 401, want: FailedPermanent, wantReason: "auth"},
		{name: "sipgate other 4xx", fail: 422, want: FailedPermanent, wantReason: "client"},
		{name: "sipgate rate limit past the deadline", fail: 429, retryAfter: "60", want: FailedRetryable, wantReason: "rate_limited"},
		{name: "sipgate server error, then the context ends", fail: 503, cancel: true, want: FailedRetryable, wantReason: "server"},
		{name: "another sender's permanent error", sendErr: classified{temporary: false, reason: "client"}, want: FailedPermanent, wantReason: "client"},
		{name: "another sender's temporary error", sendErr: classified{temporary: true, reason: "transport"}, cancel: true, want: FailedRetryable, wantReason: "transport"},
		{name: "unclassified error stays temporary", sendErr: errors.New("something nobody foresaw"), cancel: true, want: FailedRetryable, wantReason: "other"},
		{name: "our context canceled", sendErr: fmt.Errorf("sipgate: send SMS: %w", context.Canceled), cancel: true, want: FailedRetryable, wantReason: "canceled"},
		{name: "our deadline passed", sendErr: fmt.Errorf("sipgate: send SMS: %w", context.DeadlineExceeded), cancel: true, want: FailedRetryable, wantReason: "timeout"},
		{name: "ledger fails", brokenLedger: true, want: FailedRetryable, wantReason: "ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client := f.options.Sender
			f.with(func(o *Options) {
				o.Sender = senderFunc(func(ctx context.Context, sms sipgate.SMS) error {
					err := tt.sendErr
					if err == nil {
						err = client.SendSMS(ctx, sms)
					}
					if tt.cancel {
						cancel()
					}
					return err
				})
				if tt.brokenLedger {
					o.Ledger = failingLedger{f.ledger}
				}
			})
			if tt.fail != 0 {
				f.fake.FailNext(1, tt.fail, tt.retryAfter)
			}

			err := f.deliver(ctx, msgs("n1", "+4915100000001"))
			var rerr *RetryableError
			if retryable := errors.As(err, &rerr); retryable != (tt.want == FailedRetryable) || (!retryable && err != nil) {
				t.Errorf("Deliver: err = %v, want a *RetryableError only for %s", err, FailedRetryable)
			}
			if n := f.count("r", tt.want.String()); n != 1 {
				t.Errorf("sms_total{result=%q} = %d, want 1", tt.want, n)
			}
			if n := testutil.ToFloat64(f.metrics.SMSFailed.WithLabelValues("r", tt.wantReason)); n != 1 {
				t.Errorf("sms_failed_total{reason=%q} = %v, want 1", tt.wantReason, n)
			}
			if n := testutil.CollectAndCount(f.metrics.SMSFailed); n != 1 {
				t.Errorf("sms_failed_total has %d series, want 1", n)
			}
			if got := f.logLine(t, "sms not sent"); got["reason"] != tt.wantReason {
				t.Errorf("log line %v: reason = %v, want %q", got, got["reason"], tt.wantReason)
			}
		})
	}
}
