package config

// Secret is a password or token. It prints as <secret> however it is
// formatted or marshalled, so it cannot leak into logs, errors or the
// effective config; only Value gives it away, for the code that needs it.
type Secret string

const hidden = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String hides the secret from fmt.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return hidden
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML hides the secret from the printed config.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON hides the secret from JSON output.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }
