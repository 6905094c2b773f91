package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("sipgate: {sms_id: x}\nroutes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"embedded config checks", []string{"--config.check"}, 0},
		{"invalid config fails", []string{"--config.check", "--config.file=" + bad}, 1},
		{"missing config file", []string{"--config.file=" + filepath.Join(dir, "nope.yml")}, 1},
		{"unknown flag", []string{"--no-such-flag"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

func TestMemoryLimitDefaultsUnlessGOMEMLIMITIsSet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantLimit int64
		wantSet   bool
	}{
		{"not set", map[string]string{"GOGC": "200"}, defaultMemoryLimit, true},
		{"a limit", map[string]string{"GOMEMLIMIT": "1GiB"}, 0, false},
		{"off", map[string]string{"GOMEMLIMIT": "off"}, 0, false},
		{"empty", map[string]string{"GOMEMLIMIT": ""}, defaultMemoryLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			limit, set := memoryLimit(lookup)
			if limit != tc.wantLimit || set != tc.wantSet {
				t.Errorf("memoryLimit(%v) = %d, %v; want %d, %v", tc.env, limit, set, tc.wantLimit, tc.wantSet)
			}
		})
	}
}
