package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingSecretFilesOK: check-config's load takes a secret file that
// is not there as a warning; every other problem with a secret, and the
// service's own load, still fail.
func TestMissingSecretFilesOK(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope")
	config := func(tokenFile, passwordFile string) string {
		return "sipgate: {token_id: t, token_file: " + tokenFile + "}\n" +
			"webhook: {basic_auth: {username: am, password_file: " + passwordFile + "}}\n" +
			"contacts: {alice: {number: '+4915112345678'}}\n" +
			"routes: [{name: r, to: [alice]}]\n"
	}
	tests := []struct {
		name         string
		yml          string
		opts         []LoadOption
		wantErr      []string // each in the error
		wantWarnings []string // each in one warning, in order
	}{
		{
			name:         "missing files are warnings",
			yml:          config(missing, missing),
			opts:         []LoadOption{MissingSecretFilesOK()},
			wantWarnings: []string{"sipgate.token_file: open " + missing, "webhook.basic_auth.password_file: open " + missing},
		},
		{
			name:    "the service fails on them",
			yml:     config(missing, missing),
			wantErr: []string{"sipgate.token_file: open " + missing, "webhook.basic_auth.password_file: open " + missing},
		},
		{
			name:    "an empty file is no secret",
			yml:     config(empty, missing),
			opts:    []LoadOption{MissingSecretFilesOK()},
			wantErr: []string{"sipgate.token: is required with token_id"},
		},
		{
			name:    "an unreadable file is an error",
			yml:     config(dir, missing),
			opts:    []LoadOption{MissingSecretFilesOK()},
			wantErr: []string{"sipgate.token_file: read " + dir},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yml), filepath.Join(dir, "config.yml"), tt.opts...)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.wantWarnings) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tt.wantWarnings))
			}
			for i, want := range tt.wantWarnings {
				if !strings.Contains(c.Warnings[i], want) || !strings.Contains(c.Warnings[i], "needs it where it runs") {
					t.Errorf("warning %q does not say %q and why it is no error", c.Warnings[i], want)
				}
			}
			if c.Sipgate.Token != "" || c.Webhook.BasicAuth.Password != "" {
				t.Error("a secret of a missing file is set")
			}
		})
	}
}

// TestExampleConfigChecks: the example config passes the check away from
// the machine with its secret files.
func TestExampleConfigChecks(t *testing.T) {
	if _, err := Load("../../examples/config.yml"); err == nil {
		t.Skip("the example's secret files exist here")
	}
	c, err := Load("../../examples/config.yml", MissingSecretFilesOK())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) == 0 {
		t.Error("no warning about the missing secret files")
	}
}
