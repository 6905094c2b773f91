// Package sms measures text the way the mobile network encodes it and fits it into a budget of
// SMS segments.
//
// sipgate bills per segment. A text whose every character is in the GSM 03.38 default alphabet
// (or its extension table) travels as GSM-7: 160 septets in one SMS, 153 per segment once it has
// to be split. One character outside that alphabet switches the whole text to UCS-2: 70 UTF-16
// code units in one SMS, 67 per segment. Measure counts this; Transliterate replaces what would
// force UCS-2; Fit cuts a text, marked up with Shorten, List and Optional, to a number of
// segments, and sends it untransliterated where transliteration would leave too many question
// marks, or any in a part marked Legible.
package sms

import "fmt"

// Encoding is how the network carries a text.
type Encoding int

// The two encodings of an SMS text.
const (
	// GSM7 is the GSM 03.38 default alphabet, 7 bits per character (two for the extension table).
	GSM7 Encoding = iota
	// UCS2 is UTF-16, used as soon as one character is not in GSM7.
	UCS2
)

// String returns "gsm7" or "ucs2".
func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "gsm7"
	case UCS2:
		return "ucs2"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Size is what a text costs.
type Size struct {
	Encoding Encoding
	// Units are septets for GSM7, UTF-16 code units for UCS2.
	Units int
	// Segments is the number of SMS the text is sent (and billed) as.
	Segments int
}

// Segment sizes, in septets for GSM-7 and in UTF-16 code units for UCS-2. A concatenated segment
// gives up room to the header that tells the phone how to join the parts.
const (
	gsmSingle = 160
	gsmConcat = 153
	ucsSingle = 70
	ucsConcat = 67
)

// gsmBasic is the GSM 03.38 default alphabet in table order, without the escape (0x1B) that
// introduces the extension table.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà"

// gsmExtension is the extension table: each character is sent as the escape plus itself, two
// septets.
const gsmExtension = "\f^{}\\[~]|€"

// asciiCost is the septets of each ASCII character, 0 for those not in GSM-7 (controls other than
// LF, CR and FF, and the backtick). Most alert text is ASCII, so it does not go to the map.
var asciiCost [128]int8

// otherCost holds the septets of the non-ASCII characters of GSM-7.
var otherCost = map[rune]int8{}

func init() {
	for _, r := range gsmBasic {
		setCost(r, 1)
	}
	for _, r := range gsmExtension {
		setCost(r, 2)
	}
}

func setCost(r rune, septets int8) {
	if r < 128 {
		asciiCost[r] = septets
		return
	}
	otherCost[r] = septets
}

// septets returns what r costs in GSM-7, or 0 when r is not in GSM-7.
func septets(r rune) int {
	if r < 128 {
		if r < 0 {
			return 0
		}
		return int(asciiCost[r])
	}
	return int(otherCost[r])
}

// utf16Units returns what r costs in UCS-2: a character outside the Basic Multilingual Plane
// is a surrogate pair.
func utf16Units(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// Measure returns the encoding, length and number of segments of text. Empty text is one GSM-7
// segment of 0 units: what an empty SMS would cost if it could be sent (sipgate refuses it).
//
// When a text needs more than one segment, the segments are filled character by character: a
// GSM-7 extension character (2 septets) or a UCS-2 surrogate pair (2 units) is never split
// across two segments, so a text can need one segment more than its length divided by 153 (or
// 67) says.
func Measure(text string) Size {
	units, gsm := 0, true
	for _, r := range text {
		c := septets(r)
		if c == 0 {
			gsm = false
			break
		}
		units += c
	}
	if gsm {
		return Size{Encoding: GSM7, Units: units, Segments: segments(text, units, gsmSingle, gsmConcat, septets)}
	}
	units = 0
	for _, r := range text {
		units += utf16Units(r)
	}
	return Size{Encoding: UCS2, Units: units, Segments: segments(text, units, ucsSingle, ucsConcat, utf16Units)}
}

// segments counts the segments of text of total units, filling concatenated segments character
// by character so that no character is split.
func segments(text string, total, single, concat int, cost func(rune) int) int {
	if total <= single {
		return 1
	}
	n, used := 1, 0
	for _, r := range text {
		c := cost(r)
		if used+c > concat {
			n++
			used = 0
		}
		used += c
	}
	return n
}

// isGSM reports whether every rune of rs is in GSM-7.
func isGSM(rs []rune) bool {
	for _, r := range rs {
		if septets(r) == 0 {
			return false
		}
	}
	return true
}
