package config

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	c, err := Parse([]byte(valid), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    Recipient
		wantErr string
	}{
		{name: "alice", want: Recipient{Name: "alice", Number: "+4915112345678"}},
		{name: "+4930123456", want: Recipient{Number: "+4930123456"}},
		{name: "infra", wantErr: `"infra" is a group`},
		{name: "alcie", wantErr: `unknown contact "alcie" and not an E.164 number (+4915112345678) (did you mean "alice"?)`},
		{name: "030123456", wantErr: `unknown contact "030123456"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Lookup(tt.name)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Lookup(%q) = %+v, %v; want %+v", tt.name, got, err, tt.want)
			}
		})
	}
}

// TestLookupSchedule: a schedule pages whoever is on call, not one person:
// refused as a group is, with what to give instead.
func TestLookupSchedule(t *testing.T) {
	c := parseSchedules(t, teamSchedule)
	_, err := c.Lookup("ops")
	if err == nil || !strings.Contains(err.Error(), `"ops" is a schedule`) {
		t.Errorf("Lookup(ops) = %v, want it refused as a schedule", err)
	}
}
