package sms

import (
	"strings"
	"testing"
	"unicode"
)

// danglingCut reports whether the kept text before the cut mark ends inside a grapheme cluster:
// on a zero-width joiner, or with an odd run of regional indicators (half a flag), or on a
// character that a following combining mark / variation selector / skin tone belonged to.
func danglingCut(orig []rune, text string) string {
	body, ok := strings.CutSuffix(text, ucsCutMark)
	if !ok {
		body, ok = strings.CutSuffix(text, gsmCutMark)
	}
	if !ok {
		return ""
	}
	rs := []rune(body)
	if len(rs) == 0 {
		return ""
	}
	last := rs[len(rs)-1]
	if last == 0x200d {
		return "ends on a zero-width joiner"
	}
	ri := 0
	for i := len(rs) - 1; i >= 0 && rs[i] >= 0x1f1e6 && rs[i] <= 0x1f1ff; i-- {
		ri++
	}
	if ri%2 == 1 {
		return "half a flag"
	}
	// the rune in the original after the kept prefix
	idx := strings.Index(string(orig), body)
	if idx >= 0 {
		after := []rune(string(orig)[idx+len(body):])
		if len(after) > 0 {
			n := after[0]
			if unicode.Is(unicode.Mn, n) || unicode.Is(unicode.Me, n) || unicode.Is(unicode.Variation_Selector, n) || (n >= 0x1f3fb && n <= 0x1f3ff) || n == 0x200d {
				return "cut before a combining mark / selector / modifier / joiner of the last character"
			}
		}
	}
	return ""
}

// TestCutKeepsCharactersWhole: a cut keeps each character as the reader
// sees it whole or leaves it out: no family emoji cut after a joiner, no
// half a flag, no letter without its accent.
func TestCutKeepsCharactersWhole(t *testing.T) {
	one := Budget{MaxSegments: 1}
	for _, tail := range []string{
		strings.Repeat("👨‍👩‍👧", 30),
		strings.Repeat("🇩🇪🇫🇷", 30),
		strings.Repeat("ка\u0301", 60), // Cyrillic with combining stress accent
		strings.Repeat("👍🏽", 60),
	} {
		for pad := 0; pad < 8; pad++ {
			marked := "磁盘 " + strings.Repeat("x", pad) + Shorten(": "+tail)
			got := Fit(marked, one)
			if why := danglingCut([]rune(Strip(marked)), got.Text); why != "" {
				t.Errorf("Fit(%q) = %q: %s", marked, got.Text, why)
				break
			}
		}
	}
}

// TestTruncateKeepsCharactersWhole: so does truncate.
func TestTruncateKeepsCharactersWhole(t *testing.T) {
	fam := "👨‍👩‍👧"
	if got := Truncate(fam+fam, 4); got != "" {
		t.Errorf("Truncate(two families, 4) = %+q, want nothing rather than half a family", got)
	}
	for _, s := range []string{"🇩🇪🇫🇷🇮🇹 down", "👨‍👩‍👧 family", "👍🏽 ok ok"} {
		for n := 2; n < 6; n++ {
			got := Truncate(s, n)
			if why := danglingCut([]rune(s), got); why != "" {
				t.Errorf("Truncate(%q, %d) = %q: %s", s, n, got, why)
			}
		}
	}
}
