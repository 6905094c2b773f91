package sms

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEncodingString(t *testing.T) {
	tests := []struct {
		e    Encoding
		want string
	}{
		{GSM7, "gsm7"},
		{UCS2, "ucs2"},
		{Encoding(7), "Encoding(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAlphabet guards the tables against a typo: 128 basic characters minus the escape, 10 in
// the extension table, none twice.
func TestAlphabet(t *testing.T) {
	tests := []struct {
		name  string
		chars string
		want  int
	}{
		{"basic", gsmBasic, 127},
		{"extension", gsmExtension, 10},
		{"both", gsmBasic + gsmExtension, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := []rune(tt.chars)
			if len(rs) != tt.want {
				t.Errorf("%d characters, want %d", len(rs), tt.want)
			}
			slices.Sort(rs)
			if len(slices.Compact(rs)) != len([]rune(tt.chars)) {
				t.Error("a character is listed twice")
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) } // in the BMP, not in GSM-7
	tests := []struct {
		name string
		text string
		want Size
	}{
		{"empty", "", Size{GSM7, 0, 1}},
		{"ascii", "FIRING 1 DiskFull", Size{GSM7, 17, 1}},
		{"basic table beyond ASCII", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r", Size{GSM7, 44, 1}},
		{"extension table costs 2", "^{}\\[~]|€\f", Size{GSM7, 20, 1}},
		{"159 septets", x(159), Size{GSM7, 159, 1}},
		{"160 septets", x(160), Size{GSM7, 160, 1}},
		{"161 septets", x(161), Size{GSM7, 161, 2}},
		{"306 septets", x(306), Size{GSM7, 306, 2}},
		{"307 septets", x(307), Size{GSM7, 307, 3}},
		{"extension char at the 160 boundary", x(158) + "€", Size{GSM7, 160, 1}},
		{"extension char over the 160 boundary", x(159) + "€", Size{GSM7, 161, 2}},
		// 152 + 2 would split the €: it opens segment 2, which then overflows into segment 3.
		{"extension char at a 153 boundary moves on", x(152) + "€" + x(152), Size{GSM7, 306, 3}},
		{"extension char just before a 153 boundary", x(151) + "€" + x(153), Size{GSM7, 306, 2}},
		{"backtick is not GSM-7", "`", Size{UCS2, 1, 1}},
		{"one accent outside GSM-7", x(100) + "á", Size{UCS2, 101, 2}},
		{"70 UCS-2 units", zh(70), Size{UCS2, 70, 1}},
		{"71 UCS-2 units", zh(71), Size{UCS2, 71, 2}},
		{"134 UCS-2 units", zh(134), Size{UCS2, 134, 2}},
		{"135 UCS-2 units", zh(135), Size{UCS2, 135, 3}},
		{"emoji is a surrogate pair", "🔥", Size{UCS2, 2, 1}},
		{"emoji makes 69 units 71", zh(69) + "🔥", Size{UCS2, 71, 2}},
		// 66 + 2 would split the pair: it opens segment 2, which then overflows into segment 3.
		{"surrogate pair straddling the 67 boundary", zh(66) + "🔥" + zh(66), Size{UCS2, 134, 3}},
		{"surrogate pair ending at the 67 boundary", zh(65) + "🔥" + zh(67), Size{UCS2, 134, 2}},
		{"ASCII text with one emoji", x(100) + "🔥", Size{UCS2, 102, 2}},
		{"invalid UTF-8 is U+FFFD", "a\xffb", Size{UCS2, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Measure(tt.text); got != tt.want {
				t.Errorf("Measure = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTransliterate(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"GSM-7 unchanged", "FIRING 3 HighLatency Ç ß € {x}: 5% @ 12:00", "FIRING 3 HighLatency Ç ß € {x}: 5% @ 12:00"},
		{"empty", "", ""},
		{"typographic quotes", "‘a’ ‚b‛ “c” „d‟ «e»", `'a' 'b' "c" "d" "e"`},
		{"dashes", "a‐b‑c‒d–e—f―g−h", "a-b-c-d-e-f-g-h"},
		{"ellipsis", "wait…", "wait..."},
		{"Unicode spaces", "a\u00a0b\u2009c\u3000d\u202fe\tf", "a b c d e f"},
		{"accents GSM-7 lacks", "áâãêëíîóôõúûçłšžőűÁÓŠŽŐ", "aaaeeiiooouuclszöüAOSZÖ"},
		{"accents GSM-7 has", "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà", "èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà"},
		{"capitals whose lower case GSM-7 has", "ÀÈÌÒÙ", "AEIOU"},
		{"ligatures", "Œuvre œil Ĳssel", "OEuvre oeil IJssel"},
		{"signs", "3×4 • 5µs ≥ 95% ± 1 °", "3x4 * 5us >= 95% +/- 1 deg"},
		{"units", "10³ IOPS, 10²/s, 10⁶, CO₂, 95°C, 5μΩ, 3μs, 2μΑ", "10^3 IOPS, 10^2/s, 10^6, CO2, 95degC, 5uΩ, 3us, 2uA"},
		{"a Greek word that starts with mu", "μέγεθος μΩμ", "megethos mOm"},
		{"megaohm with a Greek capital mu", "5 ΜΩ, 2 Μ\u2126, ΜΩΡΟ, ΜΏ, ΜΩ\u0301", "5 MΩ, 2 MΩ, MORO, MO, MO"},
		{"exponents of several characters", "10¹² B, 10⁻³ s, e⁺, x⁻¹ ², x²\u00ad³", "10^12 B, 10^-3 s, e^+, x^-1 ^2, x^23"},
		{"backtick", "`cmd`", "'cmd'"},
		{"emoji", "disk 🔥 full", "disk ? full"},
		{"emoji with variation selector", "⚠️ warn", "? warn"},
		{"emoji with skin tone", "👍🏽", "?"},
		{"emoji joined into one", "family 👨‍👩‍👧 down", "family ? down"},
		{"flag of two regional indicators", "🇩🇪🇫🇷 down", "?? down"},
		{"flag of tags", "flag \U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "flag ?"},
		{"lone regional indicators apart", "🇩 x 🇪", "? x ?"},
		{"emoji side by side, not joined", "🔥🔥", "??"},
		{"keycap", "1️⃣ left", "1 left"},
		{"direction marks and isolates", "disk\u200e full \u2067db-1\u2069 down", "disk full db-1 down"},
		{"CJK", "中文", "??"},
		{"Cyrillic", "ошибка диска", "oshibka diska"},
		{"Cyrillic capitals", "Жук ЖУК ЩИТ ПЛЮЩ Ж", "Zhuk ZHUK SHCHIT PLYUSHCH Zh"},
		{"Russian", "Ёмкость съедена: щёлк, объём, Хабаровск", "Emkost sedena: shchelk, obem, Khabarovsk"},
		{"Ukrainian", "Їжак, Євген, ґанок, під", "Yizhak, Yevgen, ganok, pid"},
		{"Serbian and Macedonian", "Ђорђе Љубљана Њива Ћуприја Џеп Ѓорѓи Ќе Ѕид", "Djordje Ljubljana Njiva Cuprija Dzep Gjorgji Kje Dzid"},
		{"Greek", "σφάλμα δίσκου", "sfalma diskou"},
		{"Greek capitals, also those GSM-7 has", "ΣΦΑΛΜΑ ΔΙΣΚΟΥ", "SFALMA DISKOU"},
		{"Greek multi-letter capitals", "Θεσσαλονίκη ΘΕΜΑ Χίος ΨΥΧΗ", "Thessaloniki THEMA Chios PSYCHI"},
		{"Greek ou", "Ούτε ΟΥΡΑ σούπα Ου", "Oute OURA soupa Ou"},
		{"Greek word in GSM-7 stays", "ΔΦ ü", "ΔΦ ü"},
		{"Greek capital GSM-7 has, alone", "Δ 5% ΩΠ á", "Δ 5% ΩΠ a"},
		{"Greek letter alone", "α λ", "a l"},
		{"mu alone is micro", "5μs μ", "5us u"},
		{"mu in a Greek word", "μέγεθος", "megethos"},
		{"decomposed Greek accent", "σφα\u0301λμα", "sfalma"},
		{"Latin capital ligature in a word of capitals", "ÞING Þing", "THING Thing"},
		{"combining accent", "Cafe\u0301", "Cafe"},
		{"invisible characters", "a\u200bb\u00adc\ufeffd", "abcd"},
		{"invalid UTF-8", "a\xffb", "a?b"},
		{"control character", "a\x00b", "a?b"},
		{"marker runes are plain text here", "a\ue000b", "a?b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Transliterate(tt.text)
			if got != tt.want {
				t.Errorf("Transliterate(%q) = %q, want %q", tt.text, got, tt.want)
			}
			if changed != (tt.text != tt.want) {
				t.Errorf("changed = %t, want %t", changed, !changed)
			}
			if e := Measure(got).Encoding; e != GSM7 {
				t.Errorf("Transliterate(%q) = %q is %v", tt.text, got, e)
			}
		})
	}
}

// TestReplacements guards the transliteration table: every replacement is GSM-7, every replaced
// character is not (else the entry is dead), and no character is listed twice.
func TestReplacements(t *testing.T) {
	seen := map[rune]string{}
	for _, e := range replacements {
		t.Run(e.to, func(t *testing.T) {
			if !isGSM([]rune(e.to)) {
				t.Errorf("replacement %q is not GSM-7", e.to)
			}
			for _, r := range e.from {
				if septets(r) != 0 {
					t.Errorf("%q is in GSM-7 already", r)
				}
				if prev, ok := seen[r]; ok {
					t.Errorf("%q replaced by %q and by %q", r, prev, e.to)
				}
				seen[r] = e.to
			}
		})
	}
}

// TestCyrillicAndGreek guards the alphabets: every letter of the Cyrillic block's modern
// letters (U+0400 to U+045F) and of the modern Greek letters (U+0386 to U+03CE) becomes GSM-7
// text, none a '?', and a Greek word's every letter has its Latin.
func TestCyrillicAndGreek(t *testing.T) {
	tests := []struct {
		name    string
		lo, hi  rune
		table   map[rune]string
		skipGSM bool // the letters in GSM-7 stay
	}{
		{"Cyrillic", 0x400, 0x45f, replacement, false},
		{"Greek letters alone", 0x386, 0x3ce, replacement, true},
		{"Greek words", 0x386, 0x3ce, greekLatin, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for r := tt.lo; r <= tt.hi; r++ {
				if !unicode.IsLetter(r) || tt.skipGSM && septets(r) != 0 {
					continue
				}
				to, ok := tt.table[r]
				if !ok {
					t.Errorf("%q (%U) has no Latin", r, r)
					continue
				}
				if !isGSM([]rune(to)) {
					t.Errorf("%q (%U) becomes %q, not GSM-7", r, r, to)
				}
				if lost(r) {
					t.Errorf("%q (%U) is counted as lost", r, r)
				}
			}
		})
	}
	for _, e := range append(cyrillic[:], greek[:]...) {
		for _, r := range e.from {
			if !unicode.IsLower(r) {
				t.Errorf("%q: the tables list lower case letters, capitals follow", r)
			}
		}
	}
}

func TestMarkup(t *testing.T) {
	tests := []struct {
		name   string
		marked string
		strip  string
	}{
		{"shorten", "a " + Shorten("b c"), "a b c"},
		{"shorten empty", Shorten(""), ""},
		{"list", List([]string{"x", "y", "z"}, ", "), "x, y, z"},
		{"list of one", List([]string{"x"}, ","), "x"},
		{"no list", List(nil, ","), ""},
		{"shorten drops forged markers", Shorten("a\ue001b\ue000c\ue003"), "abc"},
		{"list drops forged markers", List([]string{"a\ue003", "\ue004b\ue005"}, ",\ue002"), "a,b"},
		{"stray markers", "a\ue000b\ue003c\ue004d\ue005e\ue002f\ue001g\ue006h\ue007i\ue008j\ue009", "abcdefghij"},
		{"optional", "a" + Optional(" b"), "a b"},
		{"optional empty", Optional(""), ""},
		{"optional drops forged markers", Optional("a\ue009b\ue000"), "ab"},
		{"legible", "a " + Legible("b") + " c", "a b c"},
		{"legible empty", Legible(""), ""},
		{"legible drops forged markers", Legible("a\ue007b"), "ab"},
		{"legible inside shorten is plain", Shorten(Legible("x")), "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Strip(tt.marked); got != tt.strip {
				t.Errorf("Strip(%q) = %q, want %q", tt.marked, got, tt.strip)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"shorter", "abc", 5, "abc"},
		{"exactly", "abcde", 5, "abcde"},
		{"GSM-7 gets three dots", "abcdefgh", 6, "abc..."},
		{"UCS-2 gets the ellipsis", "ж abcdefgh", 6, "ж abc…"},
		{"UCS-2 only in the cut part", "abcdefgh ж", 6, "abc..."},
		{"no space before the mark", "ab cdefgh", 6, "ab..."},
		{"too short for a mark", "abcdef", 3, "abc"},
		{"too short for three dots", "жжжжж", 3, "жж…"},
		{"too short for any mark", "жжжжж", 1, "ж"},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -1, ""},
		{"counts runes", "äöüäöüäöü", 6, "äöü..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Truncate(tt.s, tt.n); got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
		})
	}
}

// words is n runes of text with a space every fifth, so that a cut may land on a space.
func words(n int) string {
	var b strings.Builder
	for i := range n {
		if i%5 == 4 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(byte('a' + i%26))
		}
	}
	return b.String()
}

// nocut is n runes of text without a space.
func nocut(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteByte(byte('a' + i%26))
	}
	return b.String()
}

func hosts(n int) []string {
	var hs []string
	for i := 1; i <= n; i++ {
		hs = append(hs, fmt.Sprintf("host-%02d", i))
	}
	return hs
}

func letters(n int) []string {
	var ls []string
	for i := range n {
		ls = append(ls, string(rune('a'+i%26)))
	}
	return ls
}

func TestFit(t *testing.T) {
	long := ": " + nocut(300)
	tests := []struct {
		name               string
		marked             string
		budget             Budget
		want               string
		wantTruncated      bool
		wantTransliterated bool
		wantEncoding       Encoding
	}{
		{
			name:   "fits unchanged",
			marked: "FIRING 2 A " + List([]string{"h1", "h2"}, ",") + Shorten(": disk full"),
			budget: Budget{MaxSegments: 1},
			want:   "FIRING 2 A h1,h2: disk full",
		},
		{
			name:   "exactly 160 fits",
			marked: "x " + Shorten(nocut(158)),
			budget: Budget{MaxSegments: 1},
			want:   "x " + nocut(158),
		},
		{
			name:   "empty",
			marked: "",
			budget: Budget{MaxSegments: 1},
			want:   "",
		},
		{
			// 20 fixed characters leave the span 140, the cut mark included.
			name:          "span shortened, all items kept",
			marked:        "FIRING 2 Alert " + List([]string{"h1", "h2"}, ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 2 Alert h1,h2" + long[:137] + "...",
			wantTruncated: true,
		},
		{
			// 22 fixed characters leave the span 138: 135 runes, the last a space, and the mark.
			name:          "no space before the cut mark",
			marked:        "FIRING 12 Alerts " + List([]string{"h1", "h2"}, ",") + Shorten(words(300)),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 12 Alerts h1,h2" + words(134) + "...",
			wantTruncated: true,
		},
		{
			name:          "a span shorter than the limit stays whole",
			marked:        "A " + Shorten("short summary") + " " + Shorten(nocut(300)),
			budget:        Budget{MaxSegments: 1},
			want:          "A short summary " + nocut(141) + "...",
			wantTruncated: true,
		},
		{
			name:          "span with extension characters",
			marked:        "A " + Shorten(strings.Repeat("{", 200)),
			budget:        Budget{MaxSegments: 1},
			want:          "A " + strings.Repeat("{", 77) + "...",
			wantTruncated: true,
		},
		{
			// 146 + "a,b,c,+47 more" is 160; a fourth item would need 162.
			name:          "50-item list",
			marked:        nocut(145) + " " + List(letters(50), ","),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(145) + " a,b,c,+47 more",
			wantTruncated: true,
		},
		{
			// With the summary at 16, 15 hosts fit (12 + 15*8 + "+35 more" + 16 = 156); the
			// summary then gets the 4 characters left: 20.
			name:          "items dropped, then the span regrows",
			marked:        "FIRING 50 X " + List(hosts(50), ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 50 X " + strings.Join(hosts(15), ",") + ",+35 more" + long[:17] + "...",
			wantTruncated: true,
		},
		{
			// With the summary at 16, 14 hosts fit (15 + 14*8 + "+9986 more" + 16 = 153); the
			// summary then gets the 7 characters left: 23.
			name:          "10,000 items",
			marked:        "FIRING 10000 X " + List(hosts(10000), ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 10000 X " + strings.Join(hosts(14), ",") + ",+9986 more" + long[:20] + "...",
			wantTruncated: true,
		},
		{
			// 200 items of a space, then "x": all items stay, as the spaces are trimmed once the
			// summary is cut; the list must not be judged by its length.
			name:          "items of whitespace are trimmed",
			marked:        List(append(slices.Repeat([]string{" "}, 200), "x"), "") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          "x" + long[:156] + "...",
			wantTruncated: true,
		},
		{
			name:          "all items dropped before the span goes below 16",
			marked:        nocut(140) + " " + List(hosts(3), ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(140) + " +3 more" + long[:9] + "...",
			wantTruncated: true,
		},
		{
			name:          "span left out",
			marked:        nocut(150) + " " + List(hosts(3), ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(150) + " +3 more",
			wantTruncated: true,
		},
		{
			name:          "span below 16 without a list",
			marked:        nocut(150) + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(150) + long[:7] + "...",
			wantTruncated: true,
		},
		{
			name:          "must-survive parts too long: hard cut",
			marked:        words(200) + List(hosts(3), ",") + Shorten(long),
			budget:        Budget{MaxSegments: 1},
			want:          words(157) + "...",
			wantTruncated: true,
		},
		{
			name:          "many spans share the room",
			marked:        strings.Repeat(Shorten(nocut(26)), 20),
			budget:        Budget{MaxSegments: 1},
			want:          strings.Repeat("abcde...", 20),
			wantTruncated: true,
		},
		{
			name:          "only spans, too many: hard cut rather than nothing",
			marked:        strings.Repeat(Shorten(nocut(26)), 60),
			budget:        Budget{MaxSegments: 1},
			want:          strings.Repeat(nocut(26), 6) + nocut(1) + "...",
			wantTruncated: true,
		},
		{
			name:               "GSM7Only with an emoji",
			marked:             "FIRING 1 Disk " + Shorten("“data” 🔥 full — 95%"),
			budget:             Budget{MaxSegments: 1, GSM7Only: true},
			want:               `FIRING 1 Disk "data" ? full - 95%`,
			wantTransliterated: true,
		},
		{
			name:               "GSM7Only cut gets three dots",
			marked:             "FIRING 1 Disk " + Shorten("🔥 "+nocut(300)),
			budget:             Budget{MaxSegments: 1, GSM7Only: true},
			want:               "FIRING 1 Disk ? " + nocut(141) + "...",
			wantTruncated:      true,
			wantTransliterated: true,
		},
		{
			// UCS-2: 70 units. 11 fixed + the span: 57 runes (58 units, the emoji is 2) + "…".
			name:          "auto with an emoji",
			marked:        "FIRING 1 A " + Shorten(": 🔥 "+nocut(300)),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 1 A : 🔥 " + nocut(53) + "…",
			wantTruncated: true,
			wantEncoding:  UCS2,
		},
		{
			name:          "auto with an emoji in the part cut off",
			marked:        "FIRING 1 A " + Shorten(": "+nocut(300)+"🔥"),
			budget:        Budget{MaxSegments: 1},
			want:          "FIRING 1 A : " + nocut(144) + "...",
			wantTruncated: true,
		},
		{
			name:         "auto UCS-2 text that fits",
			marked:       "ошибка " + Shorten("диск"),
			budget:       Budget{MaxSegments: 1},
			want:         "ошибка диск",
			wantEncoding: UCS2,
		},
		{
			name:          "markers forged in the data",
			marked:        nocut(145) + " " + List(append([]string{"a\ue003", "\ue004b"}, letters(50)[2:]...), ",\ue005"),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(145) + " a,b,c,+47 more",
			wantTruncated: true,
		},
		{
			name:          "span markers forged in the data",
			marked:        "A " + Shorten(nocut(100)+"\ue001 "+nocut(200)),
			budget:        Budget{MaxSegments: 1},
			want:          "A " + nocut(100) + " " + nocut(54) + "...",
			wantTruncated: true,
		},
		{
			name:   "unbalanced markers are plain text",
			marked: "FIRING\ue000 x\ue001\ue001 y\ue002 z\ue004 w\ue003\ue005",
			budget: Budget{MaxSegments: 1},
			want:   "FIRING x y z w",
		},
		{
			name:          "unbalanced markers in a text to cut",
			marked:        "\ue002" + nocut(100) + "\ue000" + nocut(100) + "\ue004",
			budget:        Budget{MaxSegments: 1},
			want:          nocut(100) + nocut(57) + "...",
			wantTruncated: true,
		},
		{
			name:   "optional parts that fit stay",
			marked: "FIRING 1 A" + Shorten(": disk full") + Optional(" Runbook: http://r") + Optional(" Alerts: http://am"),
			budget: Budget{MaxSegments: 1},
			want:   "FIRING 1 A: disk full Runbook: http://r Alerts: http://am",
		},
		{
			name:          "the first optional part has precedence",
			marked:        nocut(120) + Optional(" "+nocut(30)) + Optional(" "+nocut(30)),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(120) + " " + nocut(30),
			wantTruncated: true,
		},
		{
			name:          "an optional part that does not fit goes whole, before a span is cut",
			marked:        nocut(100) + Shorten(" "+nocut(50)) + Optional(" "+nocut(20)),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(100) + " " + nocut(50),
			wantTruncated: true,
		},
		{
			name:          "optional parts go before list items",
			marked:        nocut(100) + " " + List(hosts(6), ",") + Optional(" http://am:9093"),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(100) + " " + strings.Join(hosts(6), ","),
			wantTruncated: true,
		},
		{
			name:          "a later optional part that fits stays when an earlier one goes",
			marked:        nocut(150) + Optional(" "+nocut(20)) + Optional(" x"),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(150) + " x",
			wantTruncated: true,
		},
		{
			name:          "optional parts stay out while the rest is cut",
			marked:        "A" + List(hosts(50), ",") + Shorten(long) + Optional(" http://am:9093"),
			budget:        Budget{MaxSegments: 1},
			want:          "A" + strings.Join(hosts(16), ",") + ",+34 more" + long[:20] + "...",
			wantTruncated: true,
		},
		{
			name:          "optional parts stay out of a hard cut",
			marked:        words(200) + Optional(" http://am:9093"),
			budget:        Budget{MaxSegments: 1},
			want:          words(157) + "...",
			wantTruncated: true,
		},
		{
			name:          "only an optional part: hard cut rather than nothing",
			marked:        " " + Optional(nocut(200)) + " ",
			budget:        Budget{MaxSegments: 1},
			want:          nocut(157) + "...",
			wantTruncated: true,
		},
		{
			name:          "left-out optional parts leave no space at the ends",
			marked:        Optional(nocut(100)+" ") + nocut(100) + Optional(" "+nocut(100)),
			budget:        Budget{MaxSegments: 1},
			want:          nocut(100),
			wantTruncated: true,
		},
		{
			// 2 segments of 153: 9 fixed + 297 for the span.
			name:          "MaxSegments 2",
			marked:        "FIRING 1 " + Shorten(nocut(400)),
			budget:        Budget{MaxSegments: 2},
			want:          "FIRING 1 " + nocut(294) + "...",
			wantTruncated: true,
		},
		{
			name:          "MaxSegments 0 counts as 1",
			marked:        "FIRING 1 " + Shorten(nocut(400)),
			budget:        Budget{},
			want:          "FIRING 1 " + nocut(148) + "...",
			wantTruncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fit(tt.marked, tt.budget)
			if got.Text != tt.want {
				t.Errorf("Fit().Text =\n  %q\nwant\n  %q", got.Text, tt.want)
			}
			if got.Truncated != tt.wantTruncated {
				t.Errorf("Truncated = %t, want %t", got.Truncated, tt.wantTruncated)
			}
			if got.Transliterated != tt.wantTransliterated {
				t.Errorf("Transliterated = %t, want %t", got.Transliterated, tt.wantTransliterated)
			}
			if got.Size != Measure(got.Text) {
				t.Errorf("Size = %+v, want Measure(Text) = %+v", got.Size, Measure(got.Text))
			}
			if got.Size.Encoding != tt.wantEncoding {
				t.Errorf("Encoding = %v, want %v", got.Size.Encoding, tt.wantEncoding)
			}
			if limit := max(tt.budget.MaxSegments, 1); got.Size.Segments > limit {
				t.Errorf("%d segments, budget %d", got.Size.Segments, limit)
			}
		})
	}
}

// TestFitKeepsLegible: with GSM7Only, a text that transliteration would leave with more than 3
// question marks, or with one in a Legible part, is fitted untransliterated.
func TestFitKeepsLegible(t *testing.T) {
	gsm7 := Budget{MaxSegments: 1, GSM7Only: true}
	tests := []struct {
		name          string
		marked        string
		budget        Budget
		want          string
		wantSkipped   bool
		wantTruncated bool
	}{
		{name: "Cyrillic is transliterated", marked: "FIRING 1 " + Legible("ДискПолон") + Shorten(": диск /var заполнен"), budget: gsm7, want: "FIRING 1 DiskPolon: disk /var zapolnen"},
		{name: "3 characters lost are fine", marked: "FIRING 1 A" + Shorten(": 🔥 disk 磁盘"), budget: gsm7, want: "FIRING 1 A: ? disk ??"},
		{name: "4 characters lost are too many", marked: "FIRING 1 A" + Shorten(": 磁盘已满"), budget: gsm7, want: "FIRING 1 A: 磁盘已满", wantSkipped: true},
		{name: "lost characters in list items count", marked: "FIRING 4 A " + List([]string{"主机1", "主机2"}, ","), budget: gsm7, want: "FIRING 4 A 主机1,主机2", wantSkipped: true},
		{name: "lost characters in optional parts count", marked: "FIRING 1 A" + Optional(" 🔥🔥🔥🔥"), budget: gsm7, want: "FIRING 1 A 🔥🔥🔥🔥", wantSkipped: true},
		{name: "literal question marks are not lost", marked: "FIRING 1 A" + Shorten(": ???? ?"), budget: gsm7, want: "FIRING 1 A: ???? ?"},
		{name: "invisible characters are not lost", marked: "FIRING 1 A" + Shorten(": ⚠️ \u200b\u200b\u200b\u200b"), budget: gsm7, want: "FIRING 1 A: ? "},
		{name: "a legible part loses nothing", marked: "FIRING 1 " + Legible("磁盘") + " db-1", budget: gsm7, want: "FIRING 1 磁盘 db-1", wantSkipped: true},
		{name: "legible markers without their partner are plain", marked: "FIRING 1 \ue006磁盘 db-1", budget: gsm7, want: "FIRING 1 ?? db-1"},
		{name: "a legible part that transliterates", marked: "FIRING 1 " + Legible("Ошибка") + " " + Legible("Σφάλμα"), budget: gsm7, want: "FIRING 1 Oshibka Sfalma"},
		{name: "auto is not affected", marked: "FIRING 1 " + Legible("磁盘"), budget: Budget{MaxSegments: 1}, want: "FIRING 1 磁盘"},
		{
			name:          "untransliterated text is cut to UCS-2",
			marked:        "FIRING 1 " + Legible("磁盘") + Shorten(": "+nocut(200)),
			budget:        gsm7,
			want:          "FIRING 1 磁盘: " + nocut(56) + "…",
			wantSkipped:   true,
			wantTruncated: true,
		},
		{
			name:          "untransliterated text whose lost characters are cut off is GSM-7",
			marked:        "FIRING 1 A" + Shorten(": "+nocut(200)+"磁盘已满"),
			budget:        gsm7,
			want:          "FIRING 1 A: " + nocut(145) + "...",
			wantSkipped:   true,
			wantTruncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fit(tt.marked, tt.budget)
			if got.Text != tt.want {
				t.Errorf("Fit().Text =\n  %q\nwant\n  %q", got.Text, tt.want)
			}
			if got.TransliterationSkipped != tt.wantSkipped {
				t.Errorf("TransliterationSkipped = %t, want %t", got.TransliterationSkipped, tt.wantSkipped)
			}
			if got.Transliterated != (!tt.wantSkipped && tt.budget.GSM7Only && Strip(tt.marked) != tt.want) {
				t.Errorf("Transliterated = %t", got.Transliterated)
			}
			if got.Truncated != tt.wantTruncated {
				t.Errorf("Truncated = %t, want %t", got.Truncated, tt.wantTruncated)
			}
			if got.Size != Measure(got.Text) || got.Size.Segments != 1 {
				t.Errorf("Size = %+v, want one segment, Measure(Text) = %+v", got.Size, Measure(got.Text))
			}
		})
	}
}

// TestDropOrder: the items at the highest position of all lists go first, of two lists with as
// many items left the later one's.
func TestDropOrder(t *testing.T) {
	tests := []struct {
		name   string
		marked string
		want   []int
	}{
		{"one list", List(letters(3), ","), []int{0, 0, 0}},
		{"two lists", List(letters(3), ",") + " " + List(letters(2), ",") + Shorten("x"), []int{0, 1, 0, 1, 0}},
		{"no list", Shorten("x"), []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newFitter(tt.marked, Budget{}).order; !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzFit(f *testing.F) {
	seeds := []string{
		"",
		"FIRING 3 HighLatency critical " + List([]string{"api-1", "api-2", "api-3"}, ",") + Shorten(": p99 latency 2.3s"),
		nocut(145) + " " + List(letters(50), ","),
		"FIRING 50 X " + List(hosts(50), ", ") + Shorten(": “quoted” 🔥 "+words(200)),
		List(hosts(20), ",") + " " + List(hosts(30), "/") + Shorten(nocut(100)) + Shorten("ж"+nocut(100)),
		"\ue002\ue004\ue005\ue003\ue000\ue001\ue002a\ue004b\ue003",
		"\ue000" + strings.Repeat("€", 200),
		words(400) + "\ue002" + strings.Repeat("😀", 100),
		"a\xff\xfeb" + Shorten("\xff"+nocut(300)),
		"FIRING 4 (3 critical) " + Legible("DiskFull") + " " + List([]string{"db-1"}, ",") + "; " + Legible("HighCPU") + " " +
			List([]string{"node-1", "node-2"}, ",") + Shorten(": "+words(100)) + Optional(" Runbook: https://r.example/x") + Optional(" Alerts: http://am:9093"),
		"FIRING 1 " + Legible("磁盘") + Shorten(": ошибка σφάλμα "+nocut(200)) + Optional(" 🔥"),
		Optional(nocut(200)) + "\ue006a\ue008b\ue007\ue009",
	}
	for i, s := range seeds {
		f.Add(s, uint8(i), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, marked string, segments uint8, gsm7 bool) {
		b := Budget{MaxSegments: int(segments % 5), GSM7Only: gsm7}
		got := Fit(marked, b)
		if limit := max(b.MaxSegments, 1); Measure(got.Text).Segments > limit {
			t.Fatalf("Fit(%q, %+v) = %q, %d segments", marked, b, got.Text, Measure(got.Text).Segments)
		}
		if got.Size != Measure(got.Text) {
			t.Fatalf("Size = %+v, want %+v", got.Size, Measure(got.Text))
		}
		if strings.ContainsFunc(got.Text, IsMarker) || strings.ContainsFunc(Strip(got.Text), IsMarker) {
			t.Fatalf("Fit(%q) = %q contains a marker", marked, got.Text)
		}
		if !utf8.ValidString(got.Text) {
			t.Fatalf("Fit(%q) = %q is not valid UTF-8", marked, got.Text)
		}
		want := Strip(marked)
		if strip := refStrip(marked); want != strip {
			t.Fatalf("Strip(%q) = %q, want %q", marked, want, strip)
		}
		if skip := gsm7 && refLossy(marked); got.TransliterationSkipped != skip {
			t.Fatalf("Fit(%q) with GSM7Only %t: TransliterationSkipped = %t, want %t", marked, gsm7, got.TransliterationSkipped, skip)
		}
		if gsm7 && !got.TransliterationSkipped {
			if got.Size.Encoding != GSM7 {
				t.Fatalf("Fit(%q) with GSM7Only = %q is %v", marked, got.Text, got.Size.Encoding)
			}
			want, _ = Transliterate(want)
			b.GSM7Only = true
		} else {
			b.GSM7Only = false
		}
		if strings.TrimSpace(want) != "" && strings.TrimSpace(got.Text) == "" {
			t.Fatalf("Fit(%q) = %q, cut to nothing", marked, got.Text)
		}
		if !got.Truncated {
			if got.Text != want {
				t.Fatalf("Fit(%q) = %q, not truncated, want %q", marked, got.Text, want)
			}
		}
		if Measure(want).Segments <= max(b.MaxSegments, 1) && (got.Truncated || got.Text != want) {
			t.Fatalf("Fit(%q) = %q, truncated %t, want %q that fits as it is", marked, got.Text, got.Truncated, want)
		}
		// The parts, rendered whole, are the stripped text: what lets Fit measure that instead.
		if full := newFitter(marked, b).render(noLimit, 0); full != want {
			t.Fatalf("parts of %q render whole as %q, want %q", marked, full, want)
		}
		if got, want := normalParts(parse(marked)), refParse(marked); !slices.EqualFunc(got, want, equalRefPart) {
			t.Fatalf("parse(%q) = %+v, want %+v", marked, got, want)
		}
	})
}

// refLossy is lossy from Transliterate: every character lost becomes one '?', and no
// replacement has one.
func refLossy(marked string) bool {
	rs := []rune(marked)
	var legible []rune // the text of well-formed Legible parts
	for i := 0; i < len(rs); i++ {
		if rs[i] != legibleStart {
			continue
		}
		for j := i + 1; j < len(rs); j++ {
			if IsMarker(rs[j]) {
				if rs[j] == legibleEnd {
					legible = append(legible, rs[i+1:j]...)
				}
				break
			}
		}
	}
	lostIn := func(s string) int {
		out, _ := Transliterate(s)
		return strings.Count(out, "?") - strings.Count(s, "?")
	}
	return lostIn(Strip(marked)) > maxLost || lostIn(string(legible)) > 0
}

// refStrip is Strip rune by rune.
func refStrip(marked string) string {
	return strings.Map(func(r rune) rune {
		if IsMarker(r) {
			return -1
		}
		return r
	}, marked)
}

// refPart is a part as the rune-by-rune parser below sees it.
type refPart struct {
	kind        partKind
	text        string
	items, seps []string
}

func equalRefPart(a, b refPart) bool {
	return a.kind == b.kind && a.text == b.text && slices.Equal(a.items, b.items) && slices.Equal(a.seps, b.seps)
}

// normalParts turns parts into refParts: text as decoded runes, adjacent text parts joined.
func normalParts(parts []part) []refPart {
	var out []refPart
	runes := func(s string) string { return string([]rune(s)) }
	for _, p := range parts {
		switch p.kind {
		case textPart:
			if n := len(out); n > 0 && out[n-1].kind == textPart {
				out[n-1].text += runes(p.text)
				continue
			}
			out = append(out, refPart{kind: textPart, text: runes(p.text)})
		case spanPart:
			out = append(out, refPart{kind: spanPart, text: string(p.span)})
		case optPart:
			out = append(out, refPart{kind: optPart, text: runes(p.text)})
		case listPart:
			r := refPart{kind: listPart, items: []string{}, seps: []string{}}
			for _, item := range p.items {
				r.items = append(r.items, runes(item))
			}
			for _, sep := range p.seps {
				r.seps = append(r.seps, runes(sep))
			}
			out = append(out, r)
		}
	}
	return out
}

// refParse is how parse splits marked, written rune by rune as simply as possible.
func refParse(marked string) []refPart {
	rs := []rune(marked)
	var parts []refPart
	var text []rune
	flush := func() {
		if len(text) > 0 {
			parts = append(parts, refPart{kind: textPart, text: string(text)})
			text = nil
		}
	}
	// closing returns the index of the marker that ends what starts at rs[from], when it is
	// one of want, else -1.
	closing := func(from int, want ...rune) int {
		for i := from; i < len(rs); i++ {
			if IsMarker(rs[i]) {
				if slices.Contains(want, rs[i]) {
					return i
				}
				return -1
			}
		}
		return -1
	}
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == spanStart:
			if end := closing(i+1, spanEnd); end >= 0 {
				flush()
				parts = append(parts, refPart{kind: spanPart, text: string(rs[i+1 : end])})
				i = end
			}
		case r == optStart:
			if end := closing(i+1, optEnd); end >= 0 {
				flush()
				parts = append(parts, refPart{kind: optPart, text: string(rs[i+1 : end])})
				i = end
			}
		case r == listStart:
			p := refPart{kind: listPart, items: []string{}, seps: []string{}}
			end := i
			for {
				next := closing(end+1, sepStart, listEnd)
				if next < 0 {
					break
				}
				p.items = append(p.items, string(rs[end+1:next]))
				if rs[next] == listEnd {
					flush()
					parts = append(parts, p)
					i = next
					break
				}
				sepEnd := closing(next+1, sepEnd)
				if sepEnd < 0 {
					break
				}
				p.seps = append(p.seps, string(rs[next+1:sepEnd]))
				end = sepEnd
			}
		case !IsMarker(r):
			text = append(text, r)
		}
	}
	flush()
	return parts
}

// TestDropOrderMatchesSort: dropOrder is the order of sorting every item by position, highest
// first, then by list, later first.
func TestDropOrderMatchesSort(t *testing.T) {
	for _, counts := range [][]int{{1}, {5}, {1, 1, 1}, {3, 1, 4, 1, 5, 9, 2, 6}, {10, 2}, {2, 10}, {7, 7, 7}} {
		type item struct{ list, pos int }
		var items []item
		for l, c := range counts {
			for j := range c {
				items = append(items, item{l, j})
			}
		}
		slices.SortFunc(items, func(a, b item) int {
			if a.pos != b.pos {
				return b.pos - a.pos
			}
			return b.list - a.list
		})
		want := make([]int, len(items))
		for i, it := range items {
			want[i] = it.list
		}
		if got := dropOrder(counts); !slices.Equal(got, want) {
			t.Errorf("dropOrder(%v) = %v, want %v", counts, got, want)
		}
	}
}

// BenchmarkFit fits what the default template makes of a group of 50 firing alerts.
func BenchmarkFit(b *testing.B) {
	var instances []string
	for i := 1; i <= 50; i++ {
		instances = append(instances, fmt.Sprintf("checkout-%02d.prod.example.com:8080", i))
	}
	marked := "FIRING 50 HighLatency critical " + List(instances, ",") +
		Shorten(": p99 latency of “checkout” above the 500ms SLO 🔥 — customers see timeouts at payment")
	for _, bb := range []struct {
		name   string
		budget Budget
	}{
		{"gsm7-1", Budget{MaxSegments: 1, GSM7Only: true}},
		{"auto-1", Budget{MaxSegments: 1}},
		{"auto-3", Budget{MaxSegments: 3}},
		{"fits-auto-30", Budget{MaxSegments: 30}},
		{"fits-gsm7-20", Budget{MaxSegments: 20, GSM7Only: true}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fit(marked, bb.budget)
			}
		})
	}
}

// BenchmarkFitShort fits a text of two alerts that fits one segment as it is: the common case.
func BenchmarkFitShort(b *testing.B) {
	marked := "FIRING 2 HighErrorRate critical " + List([]string{"web-1:8080", "web-2:8080"}, ",") +
		Shorten(": Checkout 5xx rate above 5%")
	for _, bb := range []struct {
		name   string
		budget Budget
	}{
		{"gsm7-1", Budget{MaxSegments: 1, GSM7Only: true}},
		{"auto-1", Budget{MaxSegments: 1}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fit(marked, bb.budget)
			}
		})
	}
}

// BenchmarkFitList fits the default template's text of a storm, where a list of thousands of
// instances has to become a few and "+N more".
func BenchmarkFitList(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		var instances []string
		for i := 1; i <= n; i++ {
			instances = append(instances, fmt.Sprintf("checkout-%05d.prod.example.com:8080", i))
		}
		marked := fmt.Sprintf("FIRING %d HighLatency critical ", n) + List(instances, ",") +
			Shorten(": Checkout p99 latency above the 500ms SLO")
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Fit(marked, Budget{MaxSegments: 1})
			}
		})
	}
}

func TestBlank(t *testing.T) {
	for s, want := range map[string]bool{
		"":                   true,
		" \t\n":              true,
		"\u200b\u200c\u200d": true,
		"\u200e\u200f\u202a": true,
		"\ufeff\u2060\u00ad": true,
		"\ufe0f":             true,
		"a":                  false,
		"\u200ba":            false,
		"🔥":                  false,
		".":                  false,
	} {
		if got := Blank(s); got != want {
			t.Errorf("Blank(%+q) = %v, want %v", s, got, want)
		}
	}
}

// TestOneEmojiIsOneLostCharacter: an emoji of several code points (a flag
// of tags, a family joined by zero-width joiners) costs one '?', as it
// shows as one: counted per code point, one such emoji made a gsm7 route
// send UCS-2, with less than half the room.
func TestOneEmojiIsOneLostCharacter(t *testing.T) {
	for _, emoji := range []string{"\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "👨‍👩‍👧‍👦", "🇩🇪"} {
		got := Fit("FIRING 1 "+Legible("DiskFull")+" warning node-17"+Shorten(": "+emoji+" Disk /var on node-17 is 93% full"), Budget{MaxSegments: 1, GSM7Only: true})
		if got.TransliterationSkipped || got.Size.Encoding != GSM7 {
			t.Errorf("%+q: %q sent as %v, transliteration skipped %v; want GSM-7", emoji, got.Text, got.Size.Encoding, got.TransliterationSkipped)
		}
	}
}
