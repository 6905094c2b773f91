package receiver

import (
	"bytes"
	"errors"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/alertmanager/template"
)

// Bounds of the strings an alertDecoder shares: a storm's alerts repeat
// their label names and most values, but a body of distinct values must
// not grow the table with its length.
const (
	maxShared    = 1024
	maxSharedLen = 256
	// maxReused bounds the maps handed back for reuse: an alert's labels
	// are a dozen or so.
	maxReused = 64
)

// alertDecoder decodes the alerts of one notification. An alert as
// Alertmanager writes it (its seven keys, each once, in their case;
// strings without escapes, of valid UTF-8) is read straight from its
// bytes, and the label names and values that alerts repeat are allocated
// once: that is most of what a storm costs to decode. Any other alert is
// left to JSON v2, which decides what json.Unmarshal would make of it and
// says what is wrong in its words, so the two ways differ only in speed
// (FuzzAlertDecoder holds them to that) and in what an alert that fails
// in two ways is told first. The decoder reads the alert whole before
// anything decodes it, so it names a syntax error, a body past
// max_body_bytes (413) or one that came too slowly (503) where the library
// may have named a value of the wrong type before it (400): Alertmanager
// retries only the 503, and its retry, if it comes in time, is told the
// 400. Reading
// an alert whole buffers it, as large as the body may be: a single alert
// of 4 MiB allocates about 14 MB to decode where the library took 6 MB.
type alertDecoder struct {
	shared map[string]string
	// free holds maps of alerts that were dropped, for kv to fill again.
	free []template.KV
}

// reuse hands back maps that nothing refers to any more, for the next
// alerts' labels and annotations: no more than two are kept, the most one
// alert takes, and none of more than maxReused entries, which clearing
// would cost each alert after it.
func (d *alertDecoder) reuse(maps ...template.KV) {
	for _, m := range maps {
		if m != nil && len(m) <= maxReused && len(d.free) < 2 {
			d.free = append(d.free, m)
		}
	}
}

// decode decodes the next value of dec into a, which is zero, as
// jsonv2.UnmarshalDecode(dec, a) would, errors included.
func (d *alertDecoder) decode(dec *jsontext.Decoder, a *template.Alert) error {
	if dec.PeekKind() != '{' {
		// null, or a value refused in the library's words.
		return jsonv2.UnmarshalDecode(dec, a)
	}
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if d.read(raw, a) {
		return nil
	}
	*a = template.Alert{}
	err = jsonv2.Unmarshal(raw, a, decodeOptions)
	var semantic *jsonv2.SemanticError
	if errors.As(err, &semantic) {
		// Where in the body, not in the alert, as UnmarshalDecode says.
		semantic.ByteOffset += dec.InputOffset() - int64(len(raw))
		semantic.JSONPointer = dec.StackPointer() + semantic.JSONPointer
	}
	return err
}

// read decodes raw, one alert that the decoder found to be valid JSON,
// into a when it is as Alertmanager writes alerts, and reports whether it
// was.
func (d *alertDecoder) read(raw []byte, a *template.Alert) bool {
	s := scanner{b: raw}
	if !s.skip('{') {
		return false
	}
	if s.skip('}') {
		return s.done()
	}
	var seen uint8
	for {
		key, ok := s.str()
		if !ok || !s.skip(':') {
			return false
		}
		var field uint8
		switch string(key) {
		case "status":
			field = 1 << 0
			a.Status, ok = d.str(&s)
		case "labels":
			field = 1 << 1
			a.Labels, ok = d.kv(&s)
		case "annotations":
			field = 1 << 2
			a.Annotations, ok = d.kv(&s)
		case "startsAt":
			field = 1 << 3
			ok = s.time(&a.StartsAt)
		case "endsAt":
			field = 1 << 4
			ok = s.time(&a.EndsAt)
		case "generatorURL":
			field = 1 << 5
			a.GeneratorURL, ok = d.str(&s)
		case "fingerprint":
			field = 1 << 6
			var v []byte
			v, ok = s.str()
			a.Fingerprint = string(v) // each alert's own: not shared
		default:
			// Another key, or one of these in another case, which
			// json.Unmarshal matches to a field.
			return false
		}
		if !ok || seen&field != 0 {
			// A key given twice merges maps and keeps the last string.
			return false
		}
		seen |= field
		if s.skip(',') {
			continue
		}
		return s.skip('}') && s.done()
	}
}

// kv reads an object of strings, as a map of its own like
// json.Unmarshal's: one handed back to reuse, emptied, or a new one.
func (d *alertDecoder) kv(s *scanner) (template.KV, bool) {
	if !s.skip('{') {
		return nil, false
	}
	var kv template.KV
	if last := len(d.free) - 1; last >= 0 {
		kv, d.free = d.free[last], d.free[:last]
		clear(kv)
	} else {
		kv = template.KV{}
	}
	if s.skip('}') {
		return kv, true
	}
	for {
		k, ok := d.str(s)
		if !ok || !s.skip(':') {
			return nil, false
		}
		v, ok := d.str(s)
		if !ok {
			return nil, false
		}
		kv[k] = v // the last of a name given twice, as json.Unmarshal keeps
		if s.skip(',') {
			continue
		}
		return kv, s.skip('}')
	}
}

// str reads a string, the same one for the same bytes while the table
// has room.
func (d *alertDecoder) str(s *scanner) (string, bool) {
	b, ok := s.str()
	if !ok {
		return "", false
	}
	if v, ok := d.shared[string(b)]; ok {
		return v, true
	}
	v := string(b)
	if len(b) <= maxSharedLen && len(d.shared) < maxShared {
		if d.shared == nil {
			d.shared = make(map[string]string)
		}
		d.shared[v] = v
	}
	return v, true
}

// scanner reads a JSON value that is known to be valid; it refuses what it
// does not read as json.Unmarshal would, for the caller to decode the
// value by the library instead.
type scanner struct {
	b []byte
	i int
}

// skip skips white space and c, and reports whether c was there.
func (s *scanner) skip(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// done reports whether nothing but white space is left.
func (s *scanner) done() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string without escapes, of valid UTF-8, and returns its
// bytes, which are raw's. An escape, or UTF-8 that json.Unmarshal would
// replace, refuses it.
func (s *scanner) str() ([]byte, bool) {
	if !s.skip('"') {
		return nil, false
	}
	end := bytes.IndexByte(s.b[s.i:], '"')
	if end < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+end]
	if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return nil, false
	}
	s.i += end + 1
	return v, true
}

// time reads a string as time.Time reads itself from JSON, which is what
// json.Unmarshal calls.
func (s *scanner) time(t *time.Time) bool {
	s.space()
	start := s.i
	if _, ok := s.str(); !ok {
		return false
	}
	return t.UnmarshalJSON(s.b[start:s.i]) == nil
}
