package sipgatetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// historyItem is one event as sipgate's GET /history lists it, with the
// field names of sipgate's Node.js client (sipgateio-node, lib/history).
// The fake lists only the SMS it accepted, so every item is an OUTGOING
// SMS.
type historyItem struct {
	ID            string   `json:"id"`
	Source        string   `json:"source"`
	Target        string   `json:"target"`
	SourceAlias   string   `json:"sourceAlias"`
	TargetAlias   string   `json:"targetAlias"`
	Type          string   `json:"type"`
	Created       string   `json:"created"`
	LastModified  string   `json:"lastModified"`
	Direction     string   `json:"direction"`
	Incoming      bool     `json:"incoming"`
	Status        string   `json:"status"`
	ConnectionIDs []string `json:"connectionIds"`
	Read          bool     `json:"read"`
	Archived      bool     `json:"archived"`
	Note          string   `json:"note"`
	Endpoints     []any    `json:"endpoints"`
	Starred       bool     `json:"starred"`
	Labels        []string `json:"labels"`
	Content       string   `json:"content"`
	Scheduled     *string  `json:"scheduled"`
}

type historyPage struct {
	Items      []historyItem `json:"items"`
	TotalCount int           `json:"totalCount"`
}

// historyFilter is a GET /history query. Empty lists match anything.
type historyFilter struct {
	connectionIDs []string
	types         []string
	directions    []string
	starred       []string
	archived      *bool
	phonenumber   string
	from, to      time.Time // zero: unbounded; both inclusive
	offset, limit int
}

// The values sipgate's enums take; anything else is a 400.
var (
	historyTypes      = []string{"CALL", "VOICEMAIL", "SMS", "FAX"}
	historyDirections = []string{"INCOMING", "OUTGOING", "MISSED_INCOMING", "MISSED_OUTGOING"}
	historyStarred    = []string{"STARRED", "UNSTARRED"}
)

// parseHistoryQuery reads the query the way sipgate's Node.js client
// writes it: arrays as repeated keys (types=SMS&types=CALL, qs'
// arrayFormat "repeat"), dates as ISO 8601 (Date.toISOString). Unknown
// keys are a 400 here, stricter than sipgate may be, so that a misspelt
// filter shows in tests instead of being silently ignored.
func parseHistoryQuery(q url.Values) (historyFilter, error) {
	f := historyFilter{limit: defaultHistoryLimit}
	for key, vals := range q {
		var err error
		switch key {
		case "connectionIds":
			f.connectionIDs = vals
		case "types":
			f.types, err = enum(key, vals, historyTypes)
		case "directions":
			f.directions, err = enum(key, vals, historyDirections)
		case "starred":
			f.starred, err = enum(key, vals, historyStarred)
		case "archived":
			var b bool
			b, err = strconv.ParseBool(vals[0])
			f.archived = &b
		case "phonenumber":
			f.phonenumber = vals[0]
		case "from", "to":
			var t time.Time
			if t, err = time.Parse(time.RFC3339, vals[0]); err == nil {
				if key == "from" {
					f.from = t
				} else {
					f.to = t
				}
			}
		case "offset":
			f.offset, err = strconv.Atoi(vals[0])
			if err == nil && f.offset < 0 {
				err = fmt.Errorf("negative")
			}
		case "limit":
			f.limit, err = strconv.Atoi(vals[0])
			if err == nil && (f.limit < 1 || f.limit > maxHistoryLimit) {
				err = fmt.Errorf("want 1 to %d", maxHistoryLimit)
			}
		default:
			err = fmt.Errorf("unknown parameter")
		}
		if err != nil {
			return f, fmt.Errorf("invalid %s %q: %w", key, vals, err)
		}
	}
	return f, nil
}

func enum(key string, vals, allowed []string) ([]string, error) {
	for _, v := range vals {
		if !slices.Contains(allowed, v) {
			return nil, fmt.Errorf("%s: %q is none of %v", key, v, allowed)
		}
	}
	return vals, nil
}

func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	if !s.allowed(w, r, http.MethodGet) {
		return
	}
	f, err := parseHistoryQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	now := time.Now()
	s.mu.Lock()
	if s.historyDenied {
		s.mu.Unlock()
		http.Error(w, "forbidden: the token lacks the history scope", http.StatusForbidden)
		return
	}
	format := s.historyTarget
	var found []record
	for _, rec := range s.records {
		if !rec.visibleAt.After(now) && f.match(rec) {
			found = append(found, rec)
		}
	}
	s.mu.Unlock()

	// Newest first, as sipgate lists its history.
	slices.SortStableFunc(found, func(a, b record) int { return b.Received.Compare(a.Received) })
	page := historyPage{Items: []historyItem{}, TotalCount: len(found)}
	if f.offset < len(found) {
		for _, rec := range found[f.offset:min(len(found), f.offset+f.limit)] {
			page.Items = append(page.Items, item(rec, format))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

// created is the time an SMS shows in the history: RFC 3339 in UTC, to
// the second.
func created(rec record) time.Time { return rec.Received.UTC().Truncate(time.Second) }

func (f historyFilter) match(rec record) bool {
	c := created(rec)
	switch {
	case len(f.types) > 0 && !slices.Contains(f.types, "SMS"),
		len(f.directions) > 0 && !slices.Contains(f.directions, "OUTGOING"),
		len(f.connectionIDs) > 0 && !slices.Contains(f.connectionIDs, rec.SMSID),
		len(f.starred) > 0 && !slices.Contains(f.starred, "UNSTARRED"),
		f.archived != nil && *f.archived,
		f.phonenumber != "" && number(f.phonenumber) != number(rec.Recipient),
		!f.from.IsZero() && c.Before(f.from),
		!f.to.IsZero() && c.After(f.to):
		return false
	}
	return true
}

// number is a phone number's digits without the international prefix,
// so that +49…, 0049… and 49… compare equal.
func number(s string) string {
	return strings.TrimPrefix(phone.Digits(s), "00")
}

func item(rec record, format func(string) string) historyItem {
	target := rec.Recipient
	if format != nil {
		target = format(target)
	}
	c := created(rec).Format(time.RFC3339)
	it := historyItem{
		ID:     rec.ID,
		Source: "sipgate", // the sender recipients see unless a caller ID is set
		Target: target,
		Type:   "SMS",
		// Created and LastModified are the same: the fake never changes an
		// entry.
		Created:       c,
		LastModified:  c,
		Direction:     "OUTGOING",
		Status:        "PICKUP", // sipgate's values for SMS are not documented
		ConnectionIDs: []string{rec.SMSID},
		Endpoints:     []any{},
		Labels:        []string{},
		Content:       rec.Message.Message,
	}
	if rec.SendAt != 0 {
		sched := time.Unix(rec.SendAt, 0).UTC().Format(time.RFC3339)
		it.Scheduled = &sched
	}
	return it
}
