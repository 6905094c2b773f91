// Package sipgate sends SMS through the sipgate REST API.
package sipgate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// DefaultBaseURL is sipgate's API, used when Options.BaseURL is empty.
const DefaultBaseURL = "https://api.sipgate.com/v2"

// defaultTimeout bounds a call when the caller brings no HTTP client, so
// that a hanging sipgate cannot hold a page forever.
const defaultTimeout = 10 * time.Second

// Options configure a Client.
type Options struct {
	BaseURL    string // e.g. https://api.sipgate.com/v2; DefaultBaseURL when empty
	SMSID      string // the Web SMS extension that sends, e.g. "s0"
	Username   string // token id or account e-mail
	Password   string // token or password; never appears in an error
	HTTPClient *http.Client
	UserAgent  string
	// Duration observes each API call's latency in seconds, labelled by
	// "code": the HTTP status, or "error" when no response came. May be nil.
	Duration *prometheus.HistogramVec
}

// Client sends SMS through one sipgate account and SMS extension,
// searches its history and reads the account's credentials and balance. It is safe for concurrent use and never retries:
// the caller decides that, from the *Error it returns.
type Client struct {
	o        Options
	endpoint string
	badURL   error // why BaseURL is unusable, nil when it is fine
}

// New returns a client for o. An unusable BaseURL is reported by every
// call as a permanent *Error.
func New(o Options) *Client {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: defaultTimeout}
	}
	// A redirect is no answer to the request: following it would turn
	// the POST into a GET and report that GET's status as sipgate's, a
	// maintenance page's 200 as an SMS accepted.
	hc := *o.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.HTTPClient = &hc
	c := &Client{o: o, endpoint: strings.TrimRight(o.BaseURL, "/") + "/sessions/sms"}
	if u, err := url.Parse(c.endpoint); err != nil {
		c.badURL = fmt.Errorf("%w: invalid base URL: %w", errBuild, err)
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.badURL = fmt.Errorf("%w: invalid base URL %q: want http(s)://host/path", errBuild, o.BaseURL)
	}
	return c
}

// SMS is one text to one phone number.
type SMS struct {
	Recipient string    // phone number, E.164 (+4915112345678)
	Message   string    // the text; sipgate rejects empty or blank ones
	SendAt    time.Time // when sipgate should send it; zero means now
}

type request struct {
	SMSID     string `json:"smsId"`
	Recipient string `json:"recipient"`
	Message   string `json:"message"`
	SendAt    *int64 `json:"sendAt,omitempty"`
}

// SendSMS asks sipgate to send sms. It returns nil once sipgate accepted it
// (any 2xx), which is all sipgate can tell: delivery to the phone is not
// confirmed.
//
// Every failure is an *Error saying whether a retry may help, except when
// ctx ends first: then the error wraps ctx.Err() and is no *Error, because
// the caller gave up, not sipgate. Either answers Unknown() true when the
// request had been written in full before the failure and no answer came:
// sipgate may have accepted the SMS, so sending it again may page twice.
func (c *Client) SendSMS(ctx context.Context, sms SMS) error {
	if c.badURL != nil {
		return &Error{Op: OpSend, Err: c.badURL}
	}
	body := request{SMSID: c.o.SMSID, Recipient: sms.Recipient, Message: Printable(sms.Message)}
	if !sms.SendAt.IsZero() {
		sec := sms.SendAt.Unix()
		body.SendAt = &sec
	}
	b, err := json.Marshal(body)
	if err != nil {
		return &Error{Op: OpSend, Err: fmt.Errorf("%w: %w", errBuild, err)}
	}
	var written atomic.Bool
	err = c.do(ctx, call{op: OpSend, method: http.MethodPost, url: c.endpoint, body: b, written: &written})
	if err != nil && err == ctx.Err() { // the caller gave up, not sipgate
		return &contextError{err: err, written: written.Load()}
	}
	return err
}

// call is one request to sipgate.
type call struct {
	op     string // OpSend, OpHistory, OpUserinfo or OpBalance, for its errors
	method string
	url    string
	body   []byte // JSON; nil for none
	// written, when not nil, is set once the whole request was written:
	// see traceWritten.
	written *atomic.Bool
	// read, when not nil, reads the body of a 2xx answer; its error is
	// returned as an *Error with the status.
	read func(io.Reader) error
}

// do sends r with the client's credentials and headers, observes how long
// sipgate took to answer, and reads the answer. It returns nil for a 2xx
// that r.read, if any, could read; an *Error for any other failure; or
// ctx.Err() itself when ctx ended before an answer came, for the caller to
// report as it must. Every answer's body is drained, within a bound, so
// that the connection can be reused.
func (c *Client) do(ctx context.Context, r call) error {
	if r.written != nil {
		ctx = traceWritten(ctx, r.written)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return &Error{Op: r.op, Err: fmt.Errorf("%w: %w", errBuild, withoutQuery(err))}
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.o.UserAgent != "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	req.SetBasicAuth(c.o.Username, c.o.Password)

	start := time.Now()
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		c.observe(codeNoResponse, start)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The *url.Error names the URL, which carries no credentials:
		// they travel in the Authorization header only. A search's query,
		// which holds the phone number, is cut.
		return &Error{Op: r.op, Err: withoutQuery(err), Written: r.written != nil && r.written.Load()}
	}
	defer resp.Body.Close()
	c.observe(strconv.Itoa(resp.StatusCode), start)

	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &Error{
			Op:         r.op,
			StatusCode: resp.StatusCode,
			Retry:      retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Body:       phone.Redact(string(head)),
		}
	}
	if r.read != nil {
		if err := r.read(resp.Body); err != nil {
			return &Error{Op: r.op, StatusCode: resp.StatusCode, Err: err}
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// traceWritten returns ctx with a trace that sets written once the whole
// request was written to the connection, and clears it whenever the
// transport takes a connection for another attempt (it retries a request
// that it could not write at all). It may report written for a request
// still in the connection's buffer, never the other way round: a failure
// it calls unknown may be unsent, one it calls unsent never reached
// sipgate in full, and sipgate acts on no partial request.
func traceWritten(ctx context.Context, written *atomic.Bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { written.Store(false) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	})
}

func (c *Client) observe(code string, start time.Time) {
	if c.o.Duration != nil {
		c.o.Duration.WithLabelValues(code).Observe(time.Since(start).Seconds())
	}
}

// maxRetryAfter caps Retry-After so that a bogus header cannot overflow a
// Duration or park a page for days.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After header, in seconds or as an HTTP date;
// 0 when absent, invalid or in the past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		if sec <= 0 {
			return 0
		}
		return time.Duration(min(sec, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// Printable is the text as SendSMS sends it: without control characters
// (C0, DEL, C1: NUL, ESC, line breaks, …), which no phone shows and
// which could only come from alert data or a template's mistake.
func Printable(text string) string {
	if strings.IndexFunc(text, unicode.IsControl) < 0 {
		return text
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, text)
}
