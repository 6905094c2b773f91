package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/phone"
)

// numberLike finds what may be a phone number in free text, separators
// and brackets included.
var numberLike = regexp.MustCompile(`[+(]?[0-9][0-9 ()./\-]*[0-9]`)

// unmasked returns the places in text that spell number, in whatever
// format: runs of digits and separators whose digits hold number's
// digits after its country code. A masked number keeps too few digits in
// a row to match.
func unmasked(text, number string) []string {
	subscriber := strings.TrimPrefix(phone.Digits(number), "49")
	var found []string
	for _, m := range numberLike.FindAllString(text, -1) {
		if strings.Contains(phone.Digits(m), subscriber) {
			found = append(found, m)
		}
	}
	return found
}

// TestSipgateErrorBodyIsMasked makes sipgate reject an SMS with an error
// body that echoes alice's number in the formats people and APIs write
// numbers in: the service's log and its answer to the webhook show each
// of them masked, none in full.
func TestSipgateErrorBodyIsMasked(t *testing.T) {
	s := startStack(t, "routes: [{name: all, to: [alice]}]\n", 0)
	echoes := []string{
		"0049-151-0000-0001",
		"+49 151 0000 0001",
		"+49 (151) 0000-0001",
		"0049.151.0000.0001",
		"(0151) 0000/0001",
		"4915100000001",
	}
	// Each format masked as phone.Redact masks it; the first must be in
	// the log, or the test proves nothing about the body.
	const masked = "004915*******01"
	s.front.answerSMS(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"message":"invalid recipient ` + strings.Join(echoes, "; ") + `"}`))
	})

	code, answer := s.postWebhook(t, "/api/v1/alerts", "application/json", readFixture(t), true)
	if got := s.metrics(t).sum("alertmanager_sipgate_sms_failed_total", labels{"reason": "client"}); got != 1 {
		t.Fatalf("sms_failed_total{reason=client} = %v, want 1: the 400 was not seen (webhook answered %d %q)", got, code, answer)
	}
	logs := s.service.output.String()
	if !strings.Contains(logs, masked) {
		t.Errorf("the log lacks sipgate's error body with the number masked (%s)", masked)
	}
	for what, text := range map[string]string{"log": logs, "webhook answer": answer} {
		if found := unmasked(text, alice); len(found) > 0 {
			t.Errorf("the %s shows alice's number unmasked: %q", what, found)
		}
		for _, echo := range echoes {
			if strings.Contains(text, echo) {
				t.Errorf("the %s contains %q", what, echo)
			}
		}
	}
}
