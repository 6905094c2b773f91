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

// sentWhileFirstHeld posts first to a service paging alice, and second
// while the first's SMS waits for sipgate's answer; it returns the SMS
// sipgate took once both were answered 200.
func sentWhileFirstHeld(t *testing.T, first, second string) []sipgatetest.Message {
	t.Helper()
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	base := startService(t, sipgateConfig(fake)+
		"contacts: {alice: {number: '+4915112345678'}}\n"+
		"routes: [{name: web, to: [alice]}]\n", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fake.AnswerLate(2 * time.Second)
	firstCode := postAsync(base+"/api/v1/alerts", first)
	// The first SMS is accepted, its answer held back.
	for fake.Held() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the first SMS never reached sipgate")
		case <-time.After(time.Millisecond):
		}
	}
	fake.AnswerLate(0)
	secondCode := postAsync(base+"/api/v1/alerts", second)
	if code := <-firstCode; code != http.StatusOK {
		t.Fatalf("first notification: %d", code)
	}
	if code := <-secondCode; code != http.StatusOK {
		t.Fatalf("second notification: %d", code)
	}
	return fake.Messages()
}

// TestAGroupIsPagedOneNotificationAtATime: while the first SMS of a group
// of three alerts waits for sipgate's answer, the HA peer's copy of the
// group arrives with two of them (the third resolved in between, say). It
// is planned only once the first is recorded, and tells the person
// nothing new: no second SMS. Planned at once, it would have paged them
// of the two alerts again.
func TestAGroupIsPagedOneNotificationAtATime(t *testing.T) {
	msgs := sentWhileFirstHeld(t,
		groupPayload(t, "http://am-1:9093", "web-1:8080", "web-2:8080", "web-3:8080"),
		groupPayload(t, "http://am-2:9093", "web-1:8080", "web-2:8080"))
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Message, "FIRING 3 ") {
		t.Errorf("sipgate took %+v; want one SMS, of the three alerts", msgs)
	}
}

// TestAnAlertInTwoGroupsIsPagedOnce: an alert in two groups (two routes
// of Alertmanager with continue: true) comes in both at once. While the
// first group's SMS waits for sipgate's answer, the second group arrives,
// with that alert only. It is planned once the first is recorded, and
// tells the person nothing new: no second SMS. Planned at once, it would
// have paged them of the alert again.
func TestAnAlertInTwoGroupsIsPagedOnce(t *testing.T) {
	other := strings.Replace(groupPayload(t, "http://am-1:9093", "web-1:8080"), `"groupKey":"{}:`, `"groupKey":"{}/{team=\"web\"}:`, 1)
	if !strings.Contains(other, "team=") {
		t.Fatal("the payload's groupKey was not changed")
	}
	msgs := sentWhileFirstHeld(t, groupPayload(t, "http://am-1:9093", "web-1:8080", "web-2:8080"), other)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Message, "FIRING 2 ") {
		t.Errorf("sipgate took %+v; want one SMS, of the two alerts", msgs)
	}
}

// TestAGroupFiringAgainAfterItsResolvedIsPaged: firing, resolved, then
// firing again with the same fingerprints and starts, each answered 200,
// as Alertmanager sends them when it resolved the alerts while Prometheus
// could not reach it (a restart, a partition longer than the alerts'
// endsAt) and Prometheus then sent them again as they were. The person,
// whose last SMS said RESOLVED, gets a third SMS: FIRING. Within the
// dedup window its page has the first's alerts and status, so only a key
// of its own keeps delivery from taking it for a copy of the first. (A
// second RESOLVED within the dedup window of the first is taken for a
// copy of it, and not sent: the README says why.)
func TestAGroupFiringAgainAfterItsResolvedIsPaged(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	base := startService(t, sipgateConfig(fake)+
		"contacts: {alice: {number: '+4915112345678'}}\n"+
		"routes: [{name: web, to: [alice]}]\n", "")
	firing := groupPayload(t, "http://am-1:9093", "web-1:8080")
	resolved := strings.NewReplacer(`"status":"firing"`, `"status":"resolved"`, `"endsAt":"0001-01-01T00:00:00Z"`, `"endsAt":"2026-11-24T22:20:00Z"`).Replace(firing)
	for i, body := range []string{firing, resolved, firing, firing} {
		if code, _ := post(t, base+"/api/v1/alerts", body, "", ""); code != http.StatusOK {
			t.Fatalf("notification %d: %d", i, code)
		}
	}
	var got []string
	for _, m := range fake.Messages() {
		word, _, _ := strings.Cut(m.Message, " ")
		got = append(got, word)
	}
	if want := []string{"FIRING", "RESOLVED", "FIRING"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sipgate took %q, want %q (the fourth notification is a retry of the third)", got, want)
	}
}
