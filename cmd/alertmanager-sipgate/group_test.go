package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

// groupPayload is a webhook of group HighErrorRate with firing alerts of
// the instances, as the Alertmanager at externalURL sends it.
func groupPayload(t *testing.T, externalURL string, instances ...string) string {
	t.Helper()
	var alerts []map[string]any
	for i, instance := range instances {
		alerts = append(alerts, map[string]any{
			"status":       "firing",
			"labels":       map[string]string{"alertname": "HighErrorRate", "instance": instance, "severity": "critical"},
			"annotations":  map[string]string{"summary": "5xx rate high on " + instance},
			"startsAt":     "2026-11-24T22:12:02Z",
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.example:9090/graph",
			"fingerprint":  fmt.Sprintf("%016x", i+1),
		})
	}
	b, err := json.Marshal(map[string]any{
		"receiver": "sms", "status": "firing", "alerts": alerts,
		"groupLabels": map[string]string{"alertname": "HighErrorRate"}, "commonLabels": map[string]string{"alertname": "HighErrorRate"},
		"commonAnnotations": map[string]string{}, "externalURL": externalURL, "version": "4",
		"groupKey": `{}:{alertname="HighErrorRate"}`, "truncatedAlerts": 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// postAsync posts body to url and sends the answer's status code, or 0
// when none came.
func postAsync(url, body string) <-chan int {
	code := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			code <- 0
			return
		}
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	return code
}

// TestAGroupIsPagedOneNotificationAtATime: while the first SMS of a group
// waits for sipgate's answer, the HA peer's copy of the group arrives with
// one alert more. It is planned only once the first is recorded, so the
// person hears of the two alerts once and of the third as the only news;
// planned at once, it would tell them all three as new.
func TestAGroupIsPagedOneNotificationAtATime(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	base := startService(t, "sipgate: {url: '"+fake.URL+"', token_id: token-1, token: s3cret, account_check_interval: 0s}\n"+
		"contacts: {alice: {number: '+4915112345678'}}\n"+
		"routes: [{name: web, to: [alice]}]\n", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fake.AnswerLate(time.Second)
	first := postAsync(base+"/api/v1/alerts", groupPayload(t, "http://am-1:9093", "web-1:8080", "web-2:8080"))
	// The first SMS is accepted, its answer held back.
	if _, err := fake.WaitMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	fake.AnswerLate(0)
	second := postAsync(base+"/api/v1/alerts", groupPayload(t, "http://am-2:9093", "web-1:8080", "web-2:8080", "web-3:8080"))
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first notification: %d", code)
	}
	if code := <-second; code != http.StatusOK {
		t.Fatalf("HA copy with an alert more: %d", code)
	}
	msgs := fake.Messages()
	if len(msgs) != 2 {
		t.Fatalf("sipgate took %d SMS, want 2: %+v", len(msgs), msgs)
	}
	if !strings.HasPrefix(msgs[0].Message, "FIRING 2 ") || !strings.HasPrefix(msgs[1].Message, "FIRING +1 ") {
		t.Errorf("SMS %q, then %q; want the two alerts, then the third as the only news", msgs[0].Message, msgs[1].Message)
	}
}
