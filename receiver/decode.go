package receiver

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/notification"
)

// errTrailingData is a body with more than white space after the
// notification, which json.Unmarshal would reject too.
var errTrailingData = errors.New("data after the notification")

// decodeNotification reads one notification, and nothing but white space
// after it, from r, as json.Unmarshal would decode the whole body. An
// empty body is io.EOF; one that ends early, io.ErrUnexpectedEOF; errors
// of r and of check are returned as they are.
//
// json.Decoder buffers a whole value before decoding any of it, so
// decoding the notification in one go would hold the body beside what it
// decodes to. Nearly all of a large body is its alerts: they are decoded
// one at a time, so that the buffer holds one alert, and the few small
// fields around them are decoded as usual.
//
// check is asked about each alert, with its index, as soon as it is
// decoded; its error stops the decoding. An alert decodes to many times
// the bytes it takes in JSON ("{}," to a whole template.Alert), so a
// body of invalid alerts must not be decoded to its end, and at most
// maxAlerts alerts are kept (0 keeps all): the rest are checked, then
// counted in TruncatedAlerts as Alertmanager's own max_alerts does, so
// that a body of tiny alerts cannot make memory grow with its length.
func decodeNotification(r io.Reader, check func(int, *template.Alert) error, maxAlerts int) (*notification.Notification, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &json.UnmarshalTypeError{Value: kind(tok), Type: reflect.TypeFor[notification.Notification](), Offset: dec.InputOffset()}
	}
	n, err := decodeObject(dec, check, maxAlerts)
	if err == io.EOF {
		// The decoder says EOF wherever the input ends; only at the
		// start does that mean an empty body.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errTrailingData
		}
		return nil, err
	}
	return n, nil
}

// decodeObject decodes the members of the notification object after its
// opening brace, and the closing brace.
func decodeObject(dec *json.Decoder, check func(int, *template.Alert) error, maxAlerts int) (*notification.Notification, error) {
	var (
		rest      = map[string]json.RawMessage{}
		alerts    template.Alerts
		dropped   uint64
		hasAlerts bool
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		// In an object the decoder has made sure that a key is a string.
		key := tok.(string)
		// json.Unmarshal matches keys to fields ignoring case, and of a
		// key given twice the last value counts.
		if strings.EqualFold(key, "alerts") {
			if alerts, dropped, err = decodeAlerts(dec, check, maxAlerts); err != nil {
				return nil, err
			}
			hasAlerts = true
			continue
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		rest[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	// What is left is small: decoding it with json.Unmarshal keeps the
	// JSON shape of a notification where it is declared, in field tags.
	b, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	var n notification.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	if hasAlerts {
		if n.Data == nil {
			n.Data = &template.Data{}
		}
		n.Alerts = alerts
		n.TruncatedAlerts += dropped
	}
	return &n, nil
}

// decodeAlerts decodes the value of the alerts key: an array, or null. It
// keeps the first maxAlerts (all when 0) and returns how many it dropped.
func decodeAlerts(dec *json.Decoder, check func(int, *template.Alert) error, maxAlerts int) (template.Alerts, uint64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, 0, err
	}
	if tok == nil {
		return nil, 0, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, 0, &json.UnmarshalTypeError{Value: kind(tok), Type: reflect.TypeFor[template.Alerts](), Offset: dec.InputOffset(), Struct: "Notification", Field: "alerts"}
	}
	// The alerts are gathered in chunks and copied once into a slice of
	// the right length: appending them to one slice would copy them at
	// every growth, and leave about four times their size as garbage.
	var (
		chunks  [][]template.Alert
		chunk   = make([]template.Alert, 0, 16)
		n       int
		dropped uint64
	)
	for dec.More() {
		if maxAlerts > 0 && n >= maxAlerts {
			var spare template.Alert
			if err := dec.Decode(&spare); err != nil {
				return nil, 0, err
			}
			if err := check(n, &spare); err != nil {
				return nil, 0, err
			}
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
		if err := dec.Decode(a); err != nil {
			return nil, 0, err
		}
		if err := check(n, a); err != nil {
			return nil, 0, err
		}
		n++
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, 0, err
	}
	if n == 0 {
		return template.Alerts{}, 0, nil // as json.Unmarshal decodes []
	}
	return slices.Concat(append(chunks, chunk)...), dropped, nil
}

// kind names the JSON type of the value a token starts, as json's errors
// do.
func kind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	default:
		return "null"
	}
}
