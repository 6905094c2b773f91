package main

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

var update = flag.Bool("update", false, "rewrite testdata/render/*.golden from the current output")

// runArgs runs the command line with stdin and returns the exit code,
// stdout and stderr.
func runArgs(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runCLI(args, &cli{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr})
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeIsTheDefault: flags alone, as the Dockerfile and the e2e tests
// start the binary, choose serve; so does naming it.
func TestServeIsTheDefault(t *testing.T) {
	for _, args := range [][]string{{"--config.check"}, {"serve", "--config.check"}, {"--log.level=debug", "--config.check", "--storage.path=/nonexistent"}} {
		code, stdout, stderr := runArgs(t, "", args...)
		if code != 0 || !strings.Contains(stdout, "dry_run: true") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want the effective embedded config", args, code, stdout, stderr)
		}
	}
	if code, _, stderr := runArgs(t, "", "check-config", "--storage.path=x", "../../examples/config.yml"); code != 2 || !strings.Contains(stderr, "storage.path") {
		t.Errorf("a serve flag on check-config: exit %d, %q; want 2 and the flag named", code, stderr)
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yml", "sipgate: {dry_run: true}\ncontacts: {alice: {number: '+4915112345678'}}\nroutes: [{name: r, to: [alcie]}]\n")
	example := "../../examples/config.yml"
	tests := []struct {
		name     string
		files    []string
		wantCode int
		want     []string
	}{
		{
			name:  "the example passes without its secret files",
			files: []string{example},
			want: []string{
				"Checking '../../examples/config.yml'  SUCCESS",
				" - sipgate: https://api.sipgate.com/v2, token token-ABC123, SMS extension s0",
				" - webhook: basic auth as alertmanager",
				" - 3 routes: database, critical, night; unmatched alerts go to critical",
				" - 3 contacts, 1 group",
				" - 1 template file: templates/example.tmpl",
				"warning: ../../examples/config.yml: sipgate.token_file: open /etc/alertmanager-sipgate/sipgate-token: ",
				"the service needs it where it runs",
			},
		},
		{
			name:     "a broken file fails, the others are still checked",
			files:    []string{bad, example},
			wantCode: 1,
			want: []string{
				"Checking '" + bad + "'  FAILED:",
				`routes[0].to[0]: unknown contact, group or schedule "alcie"`,
				`(did you mean "alice"?)`,
				"Checking '../../examples/config.yml'  SUCCESS",
			},
		},
		{
			name:     "a missing file fails",
			files:    []string{filepath.Join(dir, "nope.yml")},
			wantCode: 1,
			want:     []string{"FAILED:", "no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, _ := runArgs(t, "", append([]string{"check-config"}, tt.files...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
	inline := writeFile(t, dir, "inline.yml", "sipgate: {token_id: t, token: s3cr3t-token}\nroutes: [{name: r, to: ['+4915112345678']}]\n")
	code, stdout, _ := runArgs(t, "", "check-config", "--effective", inline)
	if code != 0 || !strings.Contains(stdout, "dedup_window: 10m") || !strings.Contains(stdout, "token: <secret>") || strings.Contains(stdout, "s3cr3t") {
		t.Errorf("--effective: exit %d, want the config with defaults and the secret hidden:\n%s", code, stdout)
	}
	if _, err := os.Stat("/etc/alertmanager-sipgate/sipgate-token"); err == nil {
		t.Log("the example's secret files exist here: serve's check of them is not tested")
		return
	}
	// The service itself still fails on the missing secret files.
	if code, _, stderr := runArgs(t, "", "--config.check", "--config.file="+example); code != 1 || !strings.Contains(stderr, "sipgate.token_file") {
		t.Errorf("--config.check of the example: exit %d, %q; want 1 and the missing secret file", code, stderr)
	}
}

// TestRenderExamples: each example payload renders with the example config
// as its golden file says (go test -update rewrites them).
func TestRenderExamples(t *testing.T) {
	payloads, err := filepath.Glob("../../examples/payloads/*.json")
	if err != nil || len(payloads) < 5 {
		t.Fatalf("example payloads: %v, %v", payloads, err)
	}
	for _, payload := range payloads {
		name := strings.TrimSuffix(filepath.Base(payload), ".json")
		t.Run(name, func(t *testing.T) {
			// At 23:13 in Berlin on the payloads' day: the weekly layer of
			// the ops schedule, not carol's office hours.
			code, stdout, stderr := runArgs(t, "", "render", "--config.file=../../examples/config.yml", "--at=2026-11-24T22:13:00Z", payload)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden := filepath.Join("testdata", "render", name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if stdout != string(want) {
				t.Errorf("render %s:\n%s\nwant (%s):\n%s", payload, stdout, golden, want)
			}
			if strings.Contains(stdout, "+4915112345678") || strings.Contains(stdout, "+4917611122233") {
				t.Error("a phone number in the output, unmasked")
			}
		})
	}
}

func TestRender(t *testing.T) {
	firing, err := os.ReadFile("../../examples/payloads/firing.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	small := writeFile(t, dir, "small.yml", "sipgate: {dry_run: true}\nwebhook: {max_body_bytes: 100}\nroutes: [{name: r, to: ['+4915112345678']}]\n")
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		want     []string
	}{
		{
			name:  "from stdin, with the embedded config",
			stdin: string(firing),
			args:  []string{"render", "-"},
			want:  []string{"SMS 1 of 1: route default to oncall (+49151******00)", "  | FIRING 1 HighErrorRate critical web-1:8080"},
		},
		{
			name:  "a pinned route is followed or noted as the webhook does",
			stdin: string(firing),
			args:  []string{"render", "--config.file=../../examples/config.yml", "--at=2026-11-24T14:00:00+01:00", "--route=night", "-"},
			want:  []string{"route critical to carol", "warn: pinned route not followed, routing by matchers instead (pinned=night, reason=receiver_mismatch"},
		},
		{
			name:     "the webhook's body limit holds",
			stdin:    string(firing),
			args:     []string{"render", "--config.file=" + small, "-"},
			wantCode: 1,
			want:     []string{"render : body larger than 100 bytes"},
		},
		{
			name:     "an invalid payload says why",
			stdin:    strings.Replace(string(firing), `"version": "4"`, `"version": "3"`, 1),
			args:     []string{"render", "-"},
			wantCode: 1,
			want:     []string{`unsupported webhook version "3", want "4"`},
		},
		{
			name:  "as if at another time",
			stdin: string(firing),
			args:  []string{"render", "--config.file=../../examples/config.yml", "--at=2026-11-24T14:00:00+01:00", "-"},
			want:  []string{"route critical to carol (+49176******33)"},
		},
		{
			name:     "a time that is no time",
			stdin:    string(firing),
			args:     []string{"render", "--at=yesterday", "-"},
			wantCode: 2,
			want:     []string{"--at: want an RFC 3339 time"},
		},
		{
			name:     "a missing file",
			args:     []string{"render", filepath.Join(dir, "nope.json")},
			wantCode: 1,
			want:     []string{"no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
		})
	}
}

// TestSendTest sends through the fake sipgate and says what it answered.
func TestSendTest(t *testing.T) {
	fake := sipgatetest.NewServer("token-1", "s3cret")
	defer fake.Close()
	dir := t.TempDir()
	config := func(password string) string {
		return writeFile(t, dir, password+".yml", "sipgate: {url: '"+fake.URL+"', token_id: token-1, token: "+password+", timeout: 5s}\n"+
			"contacts: {alice: {number: '+4915112345678'}}\ngroups: {ops: [alice]}\nroutes: [{name: r, to: [alice]}]\n")
	}
	good, wrong := config("s3cret"), config("wrong")
	dry := writeFile(t, dir, "dry.yml", "sipgate: {url: '"+fake.URL+"', dry_run: true}\ncontacts: {alice: {number: '+4915112345678'}}\nroutes: [{name: r, to: [alice]}]\n")
	tests := []struct {
		name     string
		setup    func()
		args     []string
		wantCode int
		want     []string
		wantSent []string // recipients
	}{
		{
			name:     "accepted",
			args:     []string{"--config.file=" + good, "--to=alice"},
			want:     []string{"Sending to alice (+49151******78) through " + fake.URL + " as token-1, SMS extension s0: gsm7, 56 characters, 1 segment", "sipgate accepted the SMS"},
			wantSent: []string{"+4915112345678"},
		},
		{
			name:     "to a number, with a text of its own",
			args:     []string{"--config.file=" + good, "--to=+4930123456789", "--message=Grüße 🚀"},
			want:     []string{"Sending to number (+49301******89)", "ucs2, 7 characters, 1 segment", "| Grüße 🚀", "sipgate accepted the SMS"},
			wantSent: []string{"+4930123456789"},
		},
		{
			name:     "balance too low",
			setup:    func() { fake.FailNext(1, http.StatusPaymentRequired, "") },
			args:     []string{"--config.file=" + good, "--to=alice"},
			wantCode: 1,
			want:     []string{"sipgate did not take the SMS: sipgate account balance is too low (402)", "What to do: top up the sipgate account."},
		},
		{
			name:     "credentials rejected",
			args:     []string{"--config.file=" + wrong, "--to=alice"},
			wantCode: 1,
			want:     []string{"sipgate rejected the credentials (401)", "What to do: check sipgate.token_id and token"},
		},
		{
			name:     "extension denied",
			setup:    func() { fake.FailNext(1, http.StatusForbidden, "") },
			args:     []string{"--config.file=" + good, "--to=alice"},
			wantCode: 1,
			want:     []string{"sipgate denied the SMS extension: check sms_id and that SMS is booked (403)", "scope sessions:sms:write"},
		},
		{
			name:     "sipgate down",
			setup:    func() { fake.FailNext(1, http.StatusServiceUnavailable, "") },
			args:     []string{"--config.file=" + good, "--to=alice"},
			wantCode: 1,
			want:     []string{"sipgate server error (503)", "try again later"},
		},
		{
			name: "dry run sends nothing",
			args: []string{"--config.file=" + dry, "--to=alice"},
			want: []string{"Dry run (sipgate.dry_run: true in " + dry + "): nothing sent. To alice (+49151******78), gsm7, 1 segment"},
		},
		{
			name:     "a group is refused",
			args:     []string{"--config.file=" + good, "--to=ops"},
			wantCode: 1,
			want:     []string{`send-test: "ops" is a group`},
		},
		{
			name:     "an empty text is refused",
			args:     []string{"--config.file=" + good, "--to=alice", "--message= "},
			wantCode: 1,
			want:     []string{"the message is empty"},
		},
	}
	sent := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			code, stdout, stderr := runArgs(t, "", append([]string{"send-test"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stdout %s; stderr %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			msgs := fake.Messages()
			var got []string
			for _, m := range msgs[sent:] {
				got = append(got, m.Recipient)
			}
			sent = len(msgs)
			if strings.Join(got, ",") != strings.Join(tt.wantSent, ",") {
				t.Errorf("sipgate took SMS to %q, want %q", got, tt.wantSent)
			}
		})
	}
}
