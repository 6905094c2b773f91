package receiver

import (
	"errors"
	"io"
	"math"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// errTrailingData is a body with more than white space after the
// notification, which json.Unmarshal would reject too.
var errTrailingData = errors.New("data after the notification")

// decodeOptions make JSON v2 decode a body as json.Unmarshal does (keys
// match fields ignoring case, a member given twice is decoded twice, null
// leaves a value as it is, invalid UTF-8 becomes U+FFFD, times are read
// as time.Time reads them), but report errors as JSON v2 does, saying
// where in the body they are.
var decodeOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv1.ReportErrorsWithLegacySemantics(false))

// alertCheck is asked about each alert as it is decoded (see
// decodeNotification): its index, and its size in the body in bytes.
type alertCheck func(i int, a *template.Alert, size int64) error

// decodeNotification reads one notification, and nothing but white space
// after it, from r, as json.Unmarshal would decode the whole body. An
// empty body is io.EOF; one that ends early, io.ErrUnexpectedEOF; errors
// of r and of check are returned as they are. Two differences are known:
// a body with two alerts members is refused (json.Unmarshal decodes the
// second array into the alerts of the first), and a time written with
// escapes ("\u005a" for "Z") is read where json.Unmarshal refuses it.
//
// The body is decoded by a streaming decoder that reads each byte once
// (encoding/json's Decoder scans a value whole before decoding it, which
// made decoding most of the cost of a large notification). The alerts,
// nearly all of a large body, are decoded one at a time, so that the
// buffer holds about one alert, not the body beside what it decodes to;
// the few small members around them are copied and decoded as one object
// at the end, which keeps the JSON shape of a notification where it is
// declared, in field tags.
//
// check is asked about each alert, with its index and the bytes it took
// in the body, as soon as it is decoded, and must not keep it: the maps
// of an alert past maxAlerts are filled again with the next one's. Its error stops the decoding. An
// alert decodes to many times the bytes it takes in JSON ("{}," to a
// whole template.Alert), so a
// body of invalid alerts must not be decoded to its end, and at most
// maxAlerts alerts are kept (0 keeps all): the rest are checked, then
// counted in TruncatedAlerts as Alertmanager's own max_alerts does, so
// that a body of tiny alerts cannot make memory grow with its length.
func decodeNotification(r io.Reader, check alertCheck, maxAlerts int) (*notification.Notification, error) {
	body := &readErr{r: r}
	n, err := decodeBody(jsontext.NewDecoder(body, decodeOptions), check, maxAlerts)
	if err != nil && body.err != nil {
		// The decoder wraps what reading failed with, as if the body
		// were at fault; the caller tells a body too large or too slow,
		// or a connection lost, by the reader's own error.
		return nil, body.err
	}
	return n, err
}

// readErr passes r on and keeps its first error other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// decodeBody decodes the notification that dec reads, and checks that
// nothing follows it.
func decodeBody(dec *jsontext.Decoder, check alertCheck, maxAlerts int) (*notification.Notification, error) {
	var (
		n   *notification.Notification
		err error
	)
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		n, err = decodeObject(dec, check, maxAlerts)
	case 0:
		// Nothing, or no JSON: reading says which.
		_, err = dec.ReadToken()
		return nil, err
	default:
		// Not an object: the decoder says what is wrong, in its words;
		// null, which it decodes to nothing, fails the checks after.
		n = &notification.Notification{}
		err = jsonv2.UnmarshalDecode(dec, n)
	}
	if errors.Is(err, io.EOF) {
		// The decoder says EOF wherever the input ends; only at the
		// start does that mean an empty body.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errTrailingData
		}
		return nil, err
	}
	return n, nil
}

// decodeObject decodes the members of the notification object after its
// opening brace, and the closing brace.
func decodeObject(dec *jsontext.Decoder, check alertCheck, maxAlerts int) (*notification.Notification, error) {
	var (
		// rest is the notification without its alerts: a copy of the
		// other members, which are small, decoded as one object at the
		// end with json.Unmarshal's semantics.
		rest      = []byte{'{'}
		alerts    template.Alerts
		dropped   uint64
		hasAlerts bool
	)
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		// In an object the decoder has made sure that a key is a string.
		key := tok.String()
		// json.Unmarshal matches keys to fields ignoring case.
		if strings.EqualFold(key, "alerts") {
			if hasAlerts {
				return nil, invalidError("alerts: given twice")
			}
			if alerts, dropped, err = decodeAlerts(dec, check, maxAlerts); err != nil {
				return nil, err
			}
			hasAlerts = true
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		if len(rest) > 1 {
			rest = append(rest, ',')
		}
		if rest, err = jsontext.AppendQuote(rest, key); err != nil {
			return nil, err
		}
		rest = append(append(rest, ':'), v...)
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return nil, err
	}
	var n notification.Notification
	if err := jsonv2.Unmarshal(append(rest, '}'), &n, decodeOptions); err != nil {
		return nil, err
	}
	if hasAlerts {
		if n.Data == nil {
			n.Data = &template.Data{}
		}
		n.Alerts = alerts
		n.TruncatedAlerts += min(dropped, math.MaxUint64-n.TruncatedAlerts)
	}
	return &n, nil
}

// decodeAlerts decodes the value of the alerts key: an array, or null. It
// keeps the first maxAlerts (all when 0) and returns how many it dropped.
func decodeAlerts(dec *jsontext.Decoder, check alertCheck, maxAlerts int) (template.Alerts, uint64, error) {
	if dec.PeekKind() != '[' {
		// null, or a value the decoder refuses in its words.
		var alerts template.Alerts
		err := jsonv2.UnmarshalDecode(dec, &alerts)
		return alerts, 0, err
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, 0, err
	}
	// The alerts are gathered in chunks and copied once into a slice of
	// the right length: appending them to one slice would copy them at
	// every growth, and leave about four times their size as garbage.
	var (
		chunks  [][]template.Alert
		chunk   = make([]template.Alert, 0, 16)
		n       int
		dropped uint64
		alert   alertDecoder
	)
	// spare takes each alert past maxAlerts in turn, and its maps are
	// handed back to be filled again: those alerts are checked and
	// dropped, so a body of tiny alerts allocates for the alerts it
	// keeps, not for its length.
	var spare template.Alert
	for dec.PeekKind() != ']' {
		if maxAlerts > 0 && n >= maxAlerts {
			spare = template.Alert{}
			start := dec.InputOffset()
			if err := alert.decode(dec, &spare); err != nil {
				return nil, 0, err
			}
			if err := check(n, &spare, dec.InputOffset()-start); err != nil {
				return nil, 0, err
			}
			alert.reuse(spare.Labels, spare.Annotations)
			n++
			dropped++
			continue
		}
		if len(chunk) == cap(chunk) {
			chunks = append(chunks, chunk)
			chunk = make([]template.Alert, 0, min(2*cap(chunk), 1024))
		}
		chunk = chunk[:len(chunk)+1]
		a := &chunk[len(chunk)-1]
		start := dec.InputOffset()
		if err := alert.decode(dec, a); err != nil {
			return nil, 0, err
		}
		if err := check(n, a, dec.InputOffset()-start); err != nil {
			return nil, 0, err
		}
		n++
	}
	if _, err := dec.ReadToken(); err != nil { // the closing bracket
		return nil, 0, err
	}
	if n == 0 {
		return template.Alerts{}, 0, nil // as json.Unmarshal decodes []
	}
	return slices.Concat(append(chunks, chunk)...), dropped, nil
}
