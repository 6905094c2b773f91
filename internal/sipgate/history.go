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
// more match it returns ErrHistoryIncomplete. Other failures are an *Error
// with Op OpHistory (a 403 is a token without the history scope), or wrap
// ctx.Err() when ctx ends first. Each request is observed in
// Options.Duration like a send.
func (c *Client) FindSMS(ctx context.Context, recipient, text string, since time.Time) (bool, error) {
	switch {
	case c.badURL != nil:
		return false, &Error{Op: OpHistory, Err: c.badURL}
	case digits(recipient) == "" || text == "" || since.IsZero():
		return false, &Error{Op: OpHistory, Err: fmt.Errorf("%w: search the history: want a recipient, a text and a start time", errBuild)}
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
				return false, &Error{Op: OpHistory, StatusCode: http.StatusOK,
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
	err := c.do(ctx, call{op: OpHistory, method: http.MethodGet, url: endpoint + "?" + q.Encode(),
		read: func(body io.Reader) error {
			if err := json.NewDecoder(io.LimitReader(body, maxHistoryPage)).Decode(&page); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			return nil
		}})
	return page, err
}

// withoutQuery takes the query out of the URL that a *url.Error quotes:
// a history search's holds the searched phone number, and the error ends
// up in logs.
func withoutQuery(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) && strings.Contains(uerr.URL, "?") {
		u, _, _ := strings.Cut(uerr.URL, "?")
		return &url.Error{Op: uerr.Op, URL: u, Err: uerr.Err}
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
