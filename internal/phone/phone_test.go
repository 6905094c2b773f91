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
