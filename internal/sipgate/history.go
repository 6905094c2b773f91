package sipgate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// Bounds of one history search. The filters (the recipient, the SMS
// extension, a start a minute before the send) leave few SMS to read, so
// historyMaxPages full pages mean something is off, and one search must not
// hold a page for long.
const (
	historyPageSize = 50
	historyMaxPages = 4
	// historyClockSkew is how much earlier than the caller's since sipgate's
	// clock may date the SMS.
	historyClockSkew = time.Minute
	// maxHistoryPage bounds the body of one page: 50 SMS of at most a few
	// kB each, with room to spare.
	maxHistoryPage = 4 << 20
)

// ErrHistoryIncomplete means the history holds more SMS matching the search
// than one search reads, so that "not found" cannot be claimed.
var ErrHistoryIncomplete = errors.New("sipgate history lists more SMS than one search reads")

// HistoryError is a failure to read sipgate's history, other than the
// caller's context ending. It is not an *Error because the same status means
// something else here: a 403 is a token without the history scope, not a
// denied SMS extension.
type HistoryError struct {
	StatusCode int           // HTTP status; 0 when no response came
	Retry      time.Duration // from the Retry-After header, 0 if none
	// Err is the transport error, or why a 2xx answer could not be read.
	Err error
	// Body is the head of an error response's body, on one line, numbers
	// masked.
	Body string
}

// Error says what went wrong and what the operator should check. It never
// contains the password or the searched number.
func (e *HistoryError) Error() string {
	var msg string
	switch code := e.StatusCode; {
	case code == 0:
		return "sipgate history request failed: " + e.Err.Error()
	case code >= 200 && code < 300:
		return "cannot read sipgate's history answer: " + e.Err.Error()
	case code == http.StatusUnauthorized:
		msg = "sipgate rejected the credentials reading the history (401)"
	case code == http.StatusForbidden:
		msg = "sipgate denied reading the history: the token needs the history read scope (403)"
	case code == http.StatusTooManyRequests:
		msg = "sipgate rate limit reached reading the history (429)"
	case code >= 500:
		msg = fmt.Sprintf("sipgate server error reading the history (%d)", code)
	default:
		msg = fmt.Sprintf("sipgate answered status %d to the history request", code)
		if e.Body != "" {
			msg += ": " + e.Body
		}
	}
	if e.Retry > 0 {
		msg += fmt.Sprintf(", retry after %s", e.Retry)
	}
	return msg
}

// Unwrap returns the transport or decoding error, if any.
func (e *HistoryError) Unwrap() error { return e.Err }

// Temporary reports whether asking again may succeed: after a transport
// failure, rate limiting or a server error. A missing scope or wrong
// credentials need the operator.
func (e *HistoryError) Temporary() bool {
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
func (e *HistoryError) RetryAfter() time.Duration { return e.Retry }

// Reason says in one word why the history could not be read, with the
// values of (*Error).Reason; an answer that cannot be read is "server".
func (e *HistoryError) Reason() string {
	switch code := e.StatusCode; {
	case code == 0 && errors.Is(e.Err, errBuild):
		return reasonClient
	case code == 0:
		return reasonTransport
	case code >= 200 && code < 300:
		return reasonServer
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return reasonAuth
	case code == http.StatusTooManyRequests:
		return reasonRateLimited
	case code >= 500:
		return reasonServer
	default:
		return reasonClient
	}
}

// FindSMS settles an SMS of unknown outcome (the send timed out or the
// connection broke after the request was written): it reports whether
// sipgate's history lists an outgoing SMS to recipient with exactly text,
// created at or after since less a minute of clock skew. since should be
// when the first attempt to send it began.
//
// (true, nil) means sipgate accepted the SMS. (false, nil) means it is not
// in the history now, which is not proof that it was not sent: sipgate may
// list an SMS some time after accepting it. Numbers match whatever
// sipgate's format (+49…, 0049…, 49…, 0151…).
//
// It asks GET /history for outgoing SMS of the client's SMS extension to
// recipient since then, newest first, reading at most a few pages; when
// more match it returns ErrHistoryIncomplete. Other failures are a
// *HistoryError (a 403 is a token without the history scope), or wrap
// ctx.Err() when ctx ends first. Each request is observed in
// Options.Duration like a send.
func (c *Client) FindSMS(ctx context.Context, recipient, text string, since time.Time) (bool, error) {
	switch {
	case c.badURL != nil:
		return false, &HistoryError{Err: c.badURL}
	case digits(recipient) == "" || text == "" || since.IsZero():
		return false, &HistoryError{Err: fmt.Errorf("%w: search the history: want a recipient, a text and a start time", errBuild)}
	}
	// The history lists what SendSMS sent, not what it was given.
	text = Printable(text)
	endpoint := strings.TrimRight(c.o.BaseURL, "/") + "/history"
	from := since.Add(-historyClockSkew)
	q := url.Values{
		"types":       {"SMS"},
		"directions":  {"OUTGOING"},
		"phonenumber": {recipient},
		"from":        {from.UTC().Format(time.RFC3339)},
		"limit":       {strconv.Itoa(historyPageSize)},
	}
	if c.o.SMSID != "" {
		q.Set("connectionIds", c.o.SMSID)
	}

	// Newest first with an offset: an SMS sipgate lists while we page
	// shifts older ones to later pages, so an entry may be read twice but
	// none is skipped.
	undated, offset := 0, 0
	for range historyMaxPages {
		q.Set("offset", strconv.Itoa(offset))
		page, err := c.historyPage(ctx, endpoint, q)
		if err != nil {
			return false, fmt.Errorf("sipgate: search history: %w", err)
		}
		for _, e := range page.Items {
			if !e.is(recipient, text) {
				continue
			}
			created, err := parseHistoryTime(e.Created)
			if err != nil {
				undated++
				continue
			}
			if !created.Before(from) {
				return true, nil
			}
		}
		offset += len(page.Items)
		if len(page.Items) == 0 || offset >= page.TotalCount {
			if undated > 0 {
				// Counting one as sent could mistake an old SMS with the
				// same text for this one; calling it not found could send
				// it twice. Neither is known.
				return false, &HistoryError{StatusCode: http.StatusOK,
					Err: fmt.Errorf("%d SMS with the text have an unreadable creation time", undated)}
			}
			return false, nil
		}
	}
	return false, fmt.Errorf("sipgate: search history: %w", ErrHistoryIncomplete)
}

// historyPage is one answer of GET /history, with the fields FindSMS reads.
type historyPage struct {
	Items      []historyEntry `json:"items"`
	TotalCount int            `json:"totalCount"`
}

// historyEntry is an event of the history. Field names are those of
// sipgate's Node.js client (sipgateio-node, lib/history), whose own example
// reads an SMS's text as smsContent: both are read.
type historyEntry struct {
	Type       string `json:"type"`
	Direction  string `json:"direction"`
	Target     string `json:"target"`
	Created    string `json:"created"`
	Content    string `json:"content"`
	SMSContent string `json:"smsContent"`
}

// is reports whether e is an outgoing SMS to recipient with text. Type and
// direction are filtered by sipgate already; they are checked again when
// present, in case a filter is ignored.
func (e historyEntry) is(recipient, text string) bool {
	return (e.Type == "" || e.Type == "SMS") &&
		(e.Direction == "" || e.Direction == "OUTGOING") &&
		(e.Content == text || e.SMSContent == text) &&
		sameNumber(e.Target, recipient)
}

// parseHistoryTime reads sipgate's dates: RFC 3339, with or without
// fractional seconds, or with a zone offset written without a colon.
func parseHistoryTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t2, err2 := time.Parse("2006-01-02T15:04:05.999999999Z0700", s); err2 == nil {
			return t2, nil
		}
	}
	return t, err
}

func (c *Client) historyPage(ctx context.Context, endpoint string, q url.Values) (historyPage, error) {
	var page historyPage
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return page, &HistoryError{Err: fmt.Errorf("%w: %w", errBuild, withoutQuery(err, endpoint))}
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
			return page, ctx.Err()
		}
		return page, &HistoryError{Err: withoutQuery(err, endpoint)}
	}
	defer resp.Body.Close()
	c.observe(strconv.Itoa(resp.StatusCode), start)

	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return page, &HistoryError{
			StatusCode: resp.StatusCode,
			Retry:      retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Body:       phone.Redact(string(head)),
		}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxHistoryPage)).Decode(&page); err != nil {
		return page, &HistoryError{StatusCode: resp.StatusCode, Err: fmt.Errorf("decode: %w", err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return page, nil
}

// withoutQuery takes the query out of the URL that a *url.Error quotes:
// it holds the searched phone number, and the error ends up in logs.
func withoutQuery(err error, endpoint string) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return &url.Error{Op: uerr.Op, URL: endpoint, Err: uerr.Err}
	}
	return err
}

// digits is a number's digits, without the 00 of an international prefix.
func digits(number string) string {
	return strings.TrimPrefix(phone.Digits(number), "00")
}

// minNational is the fewest digits after a national 0 that count as a
// number: fewer would let short codes match the end of any number.
const minNational = 6

// sameNumber reports whether a and b are the same phone number written
// differently: +4915112345678, 004915112345678, 4915112345678, and the
// national 015112345678 (matched on what follows the 0, as the country
// is not known).
func sameNumber(a, b string) bool {
	x, y := digits(a), digits(b)
	if x == "" || y == "" {
		return false
	}
	if x == y {
		return true
	}
	national := func(n, intl string) bool {
		rest, ok := strings.CutPrefix(n, "0")
		return ok && len(rest) >= minNational && len(intl) > len(rest) && strings.HasSuffix(intl, rest)
	}
	return national(x, y) || national(y, x)
}
