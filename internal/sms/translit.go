package sms

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
	// Powers keep their caret: 10³ as 103 would read as a hundred and three. An exponent of
	// several characters has one caret before them all (10¹² is 10^12, 10⁻³ is 10^-3; see
	// latin). Indices do not need one (CO₂ is CO2).
	{"^0", "⁰"}, {"^1", "¹"}, {"^2", "²"}, {"^3", "³"}, {"^4", "⁴"}, {"^5", "⁵"}, {"^6", "⁶"},
	{"^7", "⁷"}, {"^8", "⁸"}, {"^9", "⁹"}, {"^+", "⁺"}, {"^-", "⁻"},
	{"0", "₀"}, {"1", "₁"}, {"2", "₂"}, {"3", "₃"}, {"4", "₄"}, {"5", "₅"}, {"6", "₆"}, {"7", "₇"},
	{"8", "₈"}, {"9", "₉"},
	{"deg", "°"},
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
	{0x20e3, 0x20e3}, // the keycap that encloses a digit: 1️⃣ is 1
}

// cyrillic maps the lower-case Cyrillic letters of Russian, Ukrainian, Belarusian, Bulgarian,
// Serbian and Macedonian to Latin the way English texts commonly spell them (ж is zh, х is kh,
// щ is shch, й is y); the hard and soft signs vanish. Capitals follow (see latin).
var cyrillic = [...]struct{ to, from string }{
	{"a", "а"}, {"b", "б"}, {"v", "в"}, {"g", "гґ"}, {"d", "д"}, {"e", "еёэѐ"}, {"ye", "є"},
	{"zh", "ж"}, {"z", "з"}, {"i", "иіѝ"}, {"yi", "ї"}, {"y", "йы"}, {"j", "ј"}, {"k", "к"},
	{"l", "л"}, {"lj", "љ"}, {"m", "м"}, {"n", "н"}, {"nj", "њ"}, {"o", "о"}, {"p", "п"},
	{"r", "р"}, {"s", "с"}, {"t", "т"}, {"u", "уў"}, {"f", "ф"}, {"kh", "х"}, {"ts", "ц"},
	{"ch", "ч"}, {"sh", "ш"}, {"shch", "щ"}, {"yu", "ю"}, {"ya", "я"}, {"dj", "ђ"}, {"c", "ћ"},
	{"dz", "џѕ"}, {"gj", "ѓ"}, {"kj", "ќ"}, {"", "ъь"},
}

// greek maps the lower-case Greek letters, with and without tonos and dialytika, to Latin as
// ELOT 743 does for a reader who does not know Greek (η is i, χ is ch, ω is o, and in a word ου
// is ou, see greekOU). Capitals follow. μ is m in a Greek word but u on its own, where it is the
// micro sign (see Transliterate).
var greek = [...]struct{ to, from string }{
	{"a", "αά"}, {"v", "β"}, {"g", "γ"}, {"d", "δ"}, {"e", "εέ"}, {"z", "ζ"}, {"i", "ηήιίϊΐ"},
	{"th", "θ"}, {"k", "κ"}, {"l", "λ"}, {"m", "μ"}, {"n", "ν"}, {"x", "ξ"}, {"o", "οόωώ"},
	{"p", "π"}, {"r", "ρ"}, {"s", "σς"}, {"t", "τ"}, {"y", "υύϋΰ"}, {"f", "φ"}, {"ch", "χ"},
	{"ps", "ψ"},
}

var (
	// replacement is the GSM-7 text of each character outside GSM-7 that has one.
	replacement = map[rune]string{}
	// greekLatin is the Latin of every Greek letter above, also of the capitals GSM-7 has (Δ,
	// Σ, ...): a Greek word is transliterated whole, not left half Greek.
	greekLatin = map[rune]string{}
)

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
	// Format characters are invisible by definition: direction marks and
	// isolates, the tags of a flag emoji, and the like.
	for _, rg := range unicode.Cf.R16 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			replacement[r] = ""
		}
	}
	for _, rg := range unicode.Cf.R32 {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
			replacement[r] = ""
		}
	}
	for _, e := range cyrillic {
		for _, r := range e.from {
			replacement[r] = e.to
			if u := unicode.ToUpper(r); u != r {
				replacement[u] = title(e.to)
			}
		}
	}
	for _, e := range greek {
		for _, r := range e.from {
			greekLatin[r] = e.to
			if _, ok := replacement[r]; !ok {
				replacement[r] = e.to
			}
			if u := unicode.ToUpper(r); u != r {
				greekLatin[u] = title(e.to)
				if septets(u) == 0 {
					replacement[u] = title(e.to)
				}
			}
		}
	}
}

// title returns s with its first letter upper case: the Latin of a capital.
func title(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

// Transliterate replaces every character that is not in GSM-7 with GSM-7 text, so the text can
// be sent as GSM-7: typographic quotes, dashes and "…" become their ASCII forms, non-breaking and
// other Unicode spaces a space, accented letters the nearest letter GSM-7 has (á is a, ő is ö,
// ç is c), Cyrillic and Greek letters Latin ones (ошибка is oshibka, σφάλμα is sfalma, ОШИБКА
// OSHIBKA), × is x and • is *; invisible characters (format characters such as the zero-width
// space and direction marks, the soft hyphen, combining accents, emoji variation selectors and
// skin tones) vanish; anything else (emoji, CJK, …) becomes one '?' per character as it shows:
// an emoji outside the BMP, a flag, or emoji joined into one are one '?' each (see marks).
// changed reports whether out differs from text.
//
// A Greek word (two or more Greek letters in a row) with a letter outside GSM-7 becomes Latin
// whole, also the capitals GSM-7 has (ΣΦΑΛΜΑ is SFALMA, not ΣΦALMA); a Greek letter on its own,
// or a word of only the capitals GSM-7 has (ΔΦ), keeps what GSM-7 has, and μ on its own is u
// (5μs is 5us).
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
	prev := rune(-1)
	var q marks
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isGreekLetter(r) {
			if end, whole := greekWord(text, i); whole {
				writeGreek(&b, text[i:end], prev, nextRune(text, end))
				prev, _ = utf8.DecodeLastRuneInString(text[i:end])
				q = marks{}
				i = end
				continue
			}
		}
		mark := q.next(r)
		switch {
		case septets(r) != 0:
			b.WriteRune(r)
		case lost(r) && !mark:
			// Joined to the '?' before it: one emoji.
		default:
			b.WriteString(latin(r, prev, nextRune(text, i+size)))
		}
		if s, ok := replacement[r]; !ok || s != "" {
			// What vanishes stands between nothing: x²\u00ad³ is x^23.
			prev = r
		}
		i += size
	}
	return b.String(), true
}

// lost reports whether Transliterate turns r into '?', unless it joins the
// '?' before it (see marks).
func lost(r rune) bool {
	if septets(r) != 0 || unicode.IsSpace(r) {
		return false
	}
	_, ok := replacement[r]
	return !ok
}

// marks tells, character by character, where Transliterate writes a '?':
// for each character it cannot write, except one joined by a zero-width
// joiner to the one before (👨‍👩‍👧, a family, is one emoji) and the second
// regional indicator of a pair (🇩🇪, a flag). The zero value starts a text.
type marks struct {
	prevLost, joined, pairOpen bool
}

// next reports whether r, the next character, makes a new '?'.
func (q *marks) next(r rune) bool {
	const zwj = '\u200d'
	switch {
	case r == zwj:
		q.joined = q.prevLost
		return false
	case !lost(r):
		if s := replacement[r]; s != "" || septets(r) != 0 || unicode.IsSpace(r) {
			*q = marks{} // written: it parts what comes after from what came before
		}
		return false
	}
	regional := r >= 0x1f1e6 && r <= 0x1f1ff
	second := regional && q.pairOpen
	q.pairOpen = regional && !second
	joined := q.joined
	q.prevLost, q.joined = true, false
	return !second && !joined
}

// latin returns the GSM-7 text for r, which is not in GSM-7, between prev and next (-1 for
// none). A capital whose Latin is more than one letter (Ж, Щ, Θ, Œ) is all capitals in a word of
// capitals (ЖУК is ZHUK) and only its first letter otherwise (Жук is Zhuk).
func latin(r, prev, next rune) string {
	s, ok := replacement[r]
	switch {
	case !ok && unicode.IsSpace(r):
		return " "
	case !ok:
		return "?"
	case superscript(r) && superscript(prev):
		// One caret for the exponent: 10¹² as 10^1^2 would read as ten.
		return s[1:]
	case len(s) > 1 && unicode.IsUpper(r) && capitals(prev, next):
		return strings.ToUpper(s)
	}
	return s
}

// superscript reports whether r is a superscript digit or sign, which an exponent is written
// in.
func superscript(r rune) bool {
	s := replacement[r]
	return len(s) == 2 && s[0] == '^'
}

// capitals reports whether a capital between prev and next stands in a word of capitals: the
// next letter is a capital, or there is no next letter and the previous one is.
func capitals(prev, next rune) bool {
	if unicode.IsLetter(next) {
		return unicode.IsUpper(next)
	}
	return unicode.IsUpper(prev)
}

// nextRune returns the rune at s[i], or -1 at the end.
func nextRune(s string, i int) rune {
	if i >= len(s) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func isGreekLetter(r rune) bool {
	return r >= 0x370 && unicode.Is(unicode.Greek, r) && unicode.IsLetter(r)
}

// greekWord returns the end of the run of Greek letters (and combining accents) that starts at
// s[i], and whether it is a word to transliterate whole: two letters or more, one of them
// outside GSM-7. A mu that leads capitals alone is the micro sign before a unit (μΩ, the
// micro-ohm; μΑ, with a Greek capital A): no word, so that it is u and the unit stays, not mO
// or mA, a milli-. A capital mu before an omega alone is the megaohm (ΜΩ): no word either, so
// that it is MΩ, not MO.
func greekWord(s string, i int) (end int, whole bool) {
	letters, outside := 0, false
	micro, unit := false, true // a leading mu, and capitals alone after it
	mega := false              // a leading capital mu, and an omega after it
	word := func() bool {
		return letters > 1 && (outside || micro) && !(micro && unit) && !(mega && letters == 2)
	}
	for end = i; end < len(s); {
		r, size := utf8.DecodeRuneInString(s[end:])
		switch {
		case isGreekLetter(r) && end == i && r == 'μ':
			letters, micro = 1, true
		case isGreekLetter(r):
			letters++
			outside = outside || septets(r) == 0
			unit = unit && unicode.IsUpper(r)
			switch {
			case letters == 1:
				mega = r == 'Μ'
			case letters == 2:
				mega = mega && (r == 'Ω' || r == '\u2126')
			}
		case r >= 0x300 && r <= 0x36f:
			mega = mega && letters < 2 // an accented omega is no ohm
		default:
			return end, word()
		}
		end += size
	}
	return end, word()
}

// writeGreek writes the Latin of the Greek word w, which stands between prev and next.
func writeGreek(b *strings.Builder, w string, prev, next rune) {
	for i := 0; i < len(w); {
		r, size := utf8.DecodeRuneInString(w[i:])
		after := nextRune(w, i+size)
		if after < 0 {
			after = next
		}
		if o := greekOU(r, after); o != "" {
			// ου is one sound, u: written ou, not oy.
			b.WriteString(o)
			prev = after
			i += size + utf8.RuneLen(after)
			continue
		}
		if s, ok := greekLatin[r]; ok {
			if len(s) > 1 && unicode.IsUpper(r) && capitals(prev, after) {
				s = strings.ToUpper(s)
			}
			b.WriteString(s)
		} else {
			b.WriteString(latin(r, prev, after))
		}
		prev = r
		i += size
	}
}

// greekOU returns the Latin of the Greek letters o and then u, the diphthong ου (with an accent
// on either, in any case), or "" when they are not.
func greekOU(o, u rune) string {
	var lo string
	switch o {
	case 'ο', 'ό':
		lo = "o"
	case 'Ο', 'Ό':
		lo = "O"
	default:
		return ""
	}
	switch u {
	case 'υ', 'ύ':
		return lo + "u"
	case 'Υ', 'Ύ':
		return lo + "U"
	}
	return ""
}
