package phone

import (
	"regexp"
	"strings"
)

// candidate finds what may be a phone number inside free text, in the ways
// people and APIs write them: +49 151 1234 5678, 0049-151-0000-0001,
// (0151) 1234/5678, 0151.1234.5678, 4915112345678.
var candidate = regexp.MustCompile(`[+(]?[0-9][0-9 ()./\-]*[0-9]`)

// minDigits is the fewest digits a masked number has: E.164 numbers in
// use have more, and fewer would mask status codes and small counts.
const minDigits = 8

// isoDate is a date, which has enough digits to look like a number.
var isoDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}`)

// Redact makes text from outside (an error body, an error that quotes
// one) safe for one log line: whitespace runs become one space, invalid
// UTF-8 is dropped and every phone number is masked, whatever its format.
func Redact(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	return candidate.ReplaceAllStringFunc(s, maskCandidate)
}

// Digits is a number's digits with every separator and sign dropped:
// "+49 (0)151-1234" becomes "4901511234".
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func maskCandidate(s string) string {
	digits := Digits(s)
	if len(digits) < minDigits || isoDate.MatchString(s) {
		return s
	}
	// Dotted digits that do not start like a phone number are an address
	// or a version: 192.168.100.200.
	if strings.Contains(s, ".") && s[0] != '+' && s[0] != '0' && s[0] != '(' {
		return s
	}
	if strings.HasPrefix(s, "+") {
		digits = "+" + digits
	}
	return Mask(digits)
}
