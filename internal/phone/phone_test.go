package phone

import "testing"

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+4915112345678", "+49151******78"},
		{"+491511234", "+49151**34"},
		{"+4915123", "******23"},
		{"12", "**"},
		{"", "**"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"e164", "recipient +4915100000001 invalid", "recipient +49151******01 invalid"},
		{"double zero and dashes", "number 0049-151-0000-0001 rejected", "number 004915*******01 rejected"},
		{"spaces", "to +49 151 0000 0001.", "to +49151******01."},
		{"brackets and slash", "call (0151) 0000/0001 now", "call 015100****01 now"},
		{"dots", "0151.0000.0001", "015100****01"},
		{"national prefix in brackets", "+49 (0)151 00000001", "+49015*******01"},
		{"digits only", `{"recipient":"4915100000001"}`, `{"recipient":"491510*****01"}`},
		{"one line", "a\n\tb  c", "a b c"},
		{"invalid utf-8", "a\xffb", "ab"},
		{"status codes stay", "3 of 5 SMS failed: sipgate server error (503)", "3 of 5 SMS failed: sipgate server error (503)"},
		{"address stays", "dial tcp 192.168.100.200:443: refused", "dial tcp 192.168.100.200:443: refused"},
		{"date stays", "since 2026-11-26 12:00", "since 2026-11-26 12:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
