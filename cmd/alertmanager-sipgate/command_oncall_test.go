package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnCallCommand: the oncall command prints the table of who is on
// call, at --at, for all schedules or --schedule, and says what is wrong
// with a bad time, an unknown schedule or a config without schedules. The
// config's secret file need not exist, as on a workstation.
func TestOnCallCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yml")
	cfg := `sipgate: {token_id: t, token_file: /nonexistent/sipgate-token}
contacts:
  alice: {number: "+4915100000001"}
  bob: {number: "+4915100000002"}
schedules:
  ops:
    time_zone: Europe/Berlin
    layers: [{name: weekly, members: [alice, bob], start: "2024-01-01 09:00", shift: 1w}]
  db:
    time_zone: UTC
    layers: [{members: [bob], start: "2024-01-01 00:00", shift: 1d}]
routes: [{name: default, to: [ops, db]}]
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	noSchedules := filepath.Join(dir, "plain.yml")
	if err := os.WriteFile(noSchedules, []byte("sipgate: {dry_run: true}\nroutes: [{name: r, to: [\"+4915100000001\"]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		args        []string
		code        int
		out, errOut string
	}{
		// The hand-off stays at 09:00 across the switch of 31 March.
		{"one schedule at a time", []string{"oncall", "--config.file=" + file, "--at=2024-03-30T12:00:00Z", "--schedule=ops"}, 0,
			`at 2024-03-30T12:00:00Z

SCHEDULE             FROM                       UNTIL                      ON CALL  BY
ops (Europe/Berlin)  Mon 2024-03-25 09:00 CET   Mon 2024-04-01 09:00 CEST  alice    layer weekly
                     Mon 2024-04-01 09:00 CEST  Mon 2024-04-08 09:00 CEST  bob      layer weekly
                     Mon 2024-04-08 09:00 CEST  Mon 2024-04-15 09:00 CEST  alice    layer weekly
                     Mon 2024-04-15 09:00 CEST  Mon 2024-04-22 09:00 CEST  bob      layer weekly
                     Mon 2024-04-22 09:00 CEST  Mon 2024-04-29 09:00 CEST  alice    layer weekly
                     Mon 2024-04-29 09:00 CEST  Mon 2024-05-06 09:00 CEST  bob      layer weekly
`, ""},
		{"all schedules", []string{"oncall", "--config.file=" + file, "--at=2024-03-30T12:00:00Z"}, 0,
			"db (UTC)", ""},
		{"bad time", []string{"oncall", "--config.file=" + file, "--at=tomorrow"}, 2,
			"", "alertmanager-sipgate: --at: want an RFC 3339 time such as 2024-12-24T12:00:00+01:00\n"},
		{"unknown schedule", []string{"oncall", "--config.file=" + file, "--schedule=opps"}, 1,
			"", file + `: unknown schedule "opps" (schedules: db, ops)` + "\n"},
		{"no schedules", []string{"oncall", "--config.file=" + noSchedules}, 1,
			"", noSchedules + ": no schedules\n"},
		{"no config file", []string{"oncall"}, 2,
			"", "required flag(s) '--config.file' not provided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runCLI(tc.args, &cli{stdout: &stdout, stderr: &stderr})
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.out != "" && !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("stdout:\n%s\nwant it to hold:\n%s", stdout.String(), tc.out)
			}
			if tc.errOut == "" && stderr.Len() > 0 && code == 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.errOut) {
				t.Errorf("stderr %q, want it to hold %q", stderr.String(), tc.errOut)
			}
		})
	}
}
