// Package phone keeps phone numbers out of logs and error texts.
package phone

import "strings"

// Mask hides the middle of a phone number so that logs can tell numbers
// apart without disclosing them: +4915112345678 becomes +49151******78.
func Mask(number string) string {
	r := []rune(number)
	const head, tail = 6, 2
	if len(r) <= head+tail {
		// Too short to keep both ends readable: keep only the last two.
		if len(r) <= tail {
			return "**"
		}
		return strings.Repeat("*", len(r)-tail) + string(r[len(r)-tail:])
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}
