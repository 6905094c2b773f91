package sms

import (
	"strings"
	"unicode"
)

// replacements maps characters outside GSM-7 to GSM-7 text: each entry is the replacement and
// the characters it replaces. Letters lose the accent GSM-7 lacks but keep one it has (ő is ö,
// not o). Lower case ç becomes c, not Ç: GSM-7 has only the capital, and a capital letter in the
// middle of a word misleads more than a missing cedilla.
var replacements = [...]struct{ to, from string }{
	// Latin-1 Supplement and Latin Extended-A letters.
	{"A", "ÀÁÂÃĀĂĄ"}, {"a", "áâãāăą"},
	{"C", "ĆĈĊČ"}, {"c", "çćĉċč"},
	{"D", "ÐĎĐ"}, {"d", "ðďđ"},
	{"E", "ÈÊËĒĔĖĘĚ"}, {"e", "êëēĕėęě"},
	{"G", "ĜĞĠĢ"}, {"g", "ĝğġģ"},
	{"H", "ĤĦ"}, {"h", "ĥħ"},
	{"I", "ÌÍÎÏĨĪĬĮİ"}, {"i", "íîïĩīĭįı"},
	{"IJ", "Ĳ"}, {"ij", "ĳ"},
	{"J", "Ĵ"}, {"j", "ĵ"},
	{"K", "Ķ"}, {"k", "ķĸ"},
	{"L", "ĹĻĽĿŁ"}, {"l", "ĺļľŀł"},
	{"N", "ŃŅŇŊ"}, {"n", "ńņňŉŋ"},
	{"O", "ÒÓÔÕŌŎ"}, {"o", "óôõōŏ"},
	{"Ö", "Ő"}, {"ö", "ő"},
	{"OE", "Œ"}, {"oe", "œ"},
	{"R", "ŔŖŘ"}, {"r", "ŕŗř"},
	{"S", "ŚŜŞŠ"}, {"s", "śŝşšſ"},
	{"T", "ŢŤŦ"}, {"t", "ţťŧ"},
	{"Th", "Þ"}, {"th", "þ"},
	{"U", "ÙÚÛŨŪŬŮŲ"}, {"u", "úûũūŭůų"},
	{"Ü", "Ű"}, {"ü", "ű"},
	{"W", "Ŵ"}, {"w", "ŵ"},
	{"Y", "ÝŶŸ"}, {"y", "ýÿŷ"},
	{"Z", "ŹŻŽ"}, {"z", "źżž"},
	// Look-alikes of GSM-7's Greek capitals: the increment and ohm signs.
	{"\u0394", "\u2206"}, {"\u03a9", "\u2126"},
	// Typography that word processors, wikis and chat tools put into annotations.
	{"'", "‘’‚‛′‹›`´"},
	{`"`, "“”„‟″«»"},
	{"-", "‐‑‒–—―−"},
	{"...", "…"},
	{"x", "×"},
	{"*", "•"},
	// Units and signs common in alert text (µs, ≥ 95%).
	{"u", "µμ"},
	{"1", "¹"}, {"2", "²"}, {"3", "³"},
	{"+/-", "±"},
	{"<=", "≤"}, {">=", "≥"}, {"!=", "≠"},
	{"->", "→"}, {"<-", "←"},
	{"(c)", "©"}, {"(R)", "®"}, {"TM", "™"},
	// Invisible characters: the soft hyphen, zero-width space, (non-)joiners, word joiner and
	// byte order mark, the combining accents of decomposed letters (e + U+0301 is e), emoji
	// variation selectors and skin tones. They vanish rather than each become a '?'.
	{"", "\u00ad\u200b\u200c\u200d\u2060\ufeff"},
}

// dropped are ranges of invisible characters that vanish, like the last entry of replacements.
var dropped = []struct{ lo, hi rune }{
	{0x0300, 0x036f}, // combining diacritical marks
	{0xfe00, 0xfe0f}, // variation selectors
	{0x1f3fb, 0x1f3ff},
}

var replacement = map[rune]string{}

func init() {
	for _, e := range replacements {
		for _, r := range e.from {
			replacement[r] = e.to
		}
	}
	for _, d := range dropped {
		for r := d.lo; r <= d.hi; r++ {
			replacement[r] = ""
		}
	}
}

// Transliterate replaces every character that is not in GSM-7 with GSM-7 text, so the text can
// be sent as GSM-7: typographic quotes, dashes and "…" become their ASCII forms, non-breaking and
// other Unicode spaces a space, accented letters the nearest letter GSM-7 has (á is a, ő is ö,
// ç is c), × is x and • is *; invisible characters (zero-width space, soft hyphen, combining
// accents, emoji variation selectors) vanish; anything else (emoji, CJK, …) becomes one '?' per
// character, so an emoji outside the BMP is one '?' too. changed reports whether out differs
// from text.
func Transliterate(text string) (out string, changed bool) {
	clean := true
	for _, r := range text {
		if septets(r) == 0 {
			clean = false
			break
		}
	}
	if clean {
		return text, false
	}
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		if septets(r) != 0 {
			b.WriteRune(r)
			continue
		}
		b.WriteString(transliterate(r))
	}
	return b.String(), true
}

// transliterate returns the GSM-7 text for r, which is not in GSM-7.
func transliterate(r rune) string {
	if s, ok := replacement[r]; ok {
		return s
	}
	if unicode.IsSpace(r) {
		return " "
	}
	return "?"
}
