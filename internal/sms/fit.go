package sms

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Markers are private-use characters that Shorten and List put around the parts of a text that
// Fit may cut. They never reach a phone: Fit and Strip remove them. A list is
//
//	listStart item (sepStart sep sepEnd item)* listEnd
//
// so that removing the markers leaves the list joined with its separator, and whitespace can be
// normalised across markers as if they were not there (see IsMarker).
const (
	spanStart rune = 0xE000 + iota
	spanEnd
	listStart
	listEnd
	sepStart
	sepEnd
)

// minSpan is the length Fit cuts a Shorten span down to before it drops list items: a summary
// cut to 16 characters still says something, a host list cut to "+40 more" still counts.
const minSpan = 16

// Cut marks. "…" is one character but not GSM-7: in a GSM-7 text it would switch the whole
// message to UCS-2 and cut its room from 160 to 70, so a GSM-7 text gets "..." instead.
const (
	gsmCutMark = "..."
	ucsCutMark = "…"
)

// IsMarker reports whether r is one of the characters Shorten and List mark text with. A
// caller that normalises whitespace in marked text should treat them as invisible: the text
// Strip leaves must be the same as if the whitespace had been normalised after Strip.
func IsMarker(r rune) bool {
	return r >= spanStart && r <= sepEnd
}

// dropMarkers removes the markers from s; invalid UTF-8 becomes U+FFFD.
func dropMarkers(s string) string {
	return strings.Map(func(r rune) rune {
		if IsMarker(r) {
			return -1
		}
		return r
	}, s)
}

// Shorten marks s as a part that Fit may cut (ending it in a cut mark) or, as a last resort,
// leave out. Markers in s are removed, so data (a label, an annotation) cannot forge them.
// Empty s stays empty.
func Shorten(s string) string {
	s = dropMarkers(s)
	if s == "" {
		return ""
	}
	return string(spanStart) + s + string(spanEnd)
}

// List joins items with sep and marks them as a list whose tail Fit may replace with one item
// "+N more", e.g. "api-1,api-2,+5 more". Markers in items and sep are removed, so data cannot
// forge them. No items is the empty string.
func List(items []string, sep string) string {
	if len(items) == 0 {
		return ""
	}
	sep = string(sepStart) + dropMarkers(sep) + string(sepEnd)
	var b strings.Builder
	b.WriteRune(listStart)
	for i, item := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(dropMarkers(item))
	}
	b.WriteRune(listEnd)
	return b.String()
}

// Strip removes all markers from marked and keeps all content: a list is its items joined with
// its separator. It is the text Fit returns when everything fits (before any transliteration).
// Invalid UTF-8 becomes U+FFFD, as it does in Fit.
func Strip(marked string) string {
	return dropMarkers(marked)
}

// Truncate cuts s to at most n characters (runes), the last of them the cut mark: "…" when the
// kept text is UCS-2 anyway, else "...". s of at most n characters is returned unchanged; no space
// is left before the cut mark. When n is too small for one character and the mark, s is cut to n
// characters without a mark; n <= 0 returns "". Markers in s count as characters: Strip first.
func Truncate(s string, n int) string {
	rs := []rune(s)
	switch {
	case len(rs) <= n:
		return s
	case n <= 0:
		return ""
	}
	cut := cutRunes(nil, rs, n, gsmCutMark)
	if len(cut) == 0 || !isGSM(cut) {
		// "…" leaves room for more, but only its UCS-2 text may have it.
		if u := cutRunes(nil, rs, n, ucsCutMark); len(u) > 0 && !isGSM(u[:len(u)-1]) {
			return string(u)
		}
	}
	if len(cut) == 0 {
		return string(rs[:n])
	}
	return string(cut)
}

// cutRunes appends to dst rs cut to at most n runes: a prefix without trailing space, then mark.
// It appends nothing when not even one character fits before the mark; rs must be longer than n.
func cutRunes(dst, rs []rune, n int, mark string) []rune {
	keep := n - len([]rune(mark))
	if keep <= 0 {
		return dst
	}
	prefix := trimRightSpace(rs[:keep])
	if len(prefix) == 0 {
		return dst
	}
	dst = append(dst, prefix...)
	return append(dst, []rune(mark)...)
}

func trimRightSpace(rs []rune) []rune {
	for len(rs) > 0 && unicode.IsSpace(rs[len(rs)-1]) {
		rs = rs[:len(rs)-1]
	}
	return rs
}

func trimSpace(rs []rune) []rune {
	for len(rs) > 0 && unicode.IsSpace(rs[0]) {
		rs = rs[1:]
	}
	return trimRightSpace(rs)
}

// Budget is how much room a message has.
type Budget struct {
	// MaxSegments is the most segments the message may cost; less than 1 counts as 1.
	MaxSegments int
	// GSM7Only transliterates the text to GSM-7 before fitting (the route's encoding: gsm7), so
	// that one emoji does not cut the room of the message from 160 characters to 70.
	GSM7Only bool
}

// Result is a text fitted to a Budget.
type Result struct {
	// Text is ready to send: no markers, at most Budget.MaxSegments segments.
	Text string
	// Size is Measure(Text).
	Size Size
	// Truncated reports that something was cut or left out to fit.
	Truncated bool
	// Transliterated reports that GSM7Only replaced characters of the input (also ones that
	// were then cut).
	Transliterated bool
}

// Fit returns the longest form of marked (text with Shorten and List parts) that fits the
// budget, cutting in this order:
//
//  1. If the text with all markers stripped fits, it is returned unchanged.
//  2. Shorten parts are cut to the largest common length L that fits, with all list items kept;
//     a part shorter than L stays whole. L counts the cut mark a cut part ends in. If L is at
//     least 16, that is the result.
//  3. Else, with Shorten parts at L=16, list items are dropped, last items first: the items at
//     the highest position of all lists go first, of two lists with as many items left the later
//     one's first. The dropped items of a list become one item "+N more" (joined with the list's
//     separator). Once the most items that fit is found, L is made as large as still fits. Only
//     if no item and L=16 still do not fit do Shorten parts go below 16, down to being left out
//     entirely (no cut mark then).
//  4. If even that does not fit (the parts that must survive are too long on their own), or
//     leaves nothing but whitespace of a text that had more, the whole stripped text is cut to
//     fit and ends in the cut mark.
//
// The cut mark is "…" when the result is UCS-2 anyway and "..." otherwise: a single "…" would
// turn a GSM-7 message into UCS-2 and halve its room. No space is left before a cut mark, and a
// cut text loses whitespace at its start and end (a part left out may leave some); Fit otherwise
// changes no whitespace, which the caller normalises. Markers without their partner are ignored.
func Fit(marked string, b Budget) Result {
	f := newFitter(marked, b)
	full := f.render(noLimit, 0)
	if f.fits(full) {
		return f.result(full, false)
	}
	// A text with something to say must not be cut to nothing (a template of many long spans
	// and nothing else, say): then the hard cut says more.
	blank := strings.TrimSpace(full) == ""
	worth := func(text string) bool { return blank || strings.TrimSpace(text) != "" }

	// 2. Shorten spans, all items kept.
	if f.maxSpan > minSpan {
		if t := f.render(minSpan, 0); f.fits(t) {
			if t := f.render(f.largestLimit(minSpan, f.maxSpan-1, 0), 0); worth(t) {
				return f.result(t, true)
			}
		}
	}

	// 3. Drop items, spans at minSpan; then give the spans back what room is left.
	if n := len(f.order); n > 0 {
		if t := f.render(minSpan, n); f.fits(t) {
			drop := smallest(1, n, func(d int) bool { return f.fits(f.render(minSpan, d)) })
			if t := f.render(f.largestLimit(minSpan, f.maxSpan, drop), drop); worth(t) {
				return f.result(t, true)
			}
		}
	}
	// No items left to drop: spans below minSpan, down to left out.
	if f.maxSpan > 0 {
		drop := len(f.order)
		if t := f.render(0, drop); f.fits(t) {
			if t := f.render(f.largestLimit(0, minSpan-1, drop), drop); worth(t) {
				return f.result(t, true)
			}
		}
	}

	// 4. Hard cut of the whole text.
	rs := []rune(full)
	cut := func(n int) string {
		out := cutRunes(nil, rs, n, gsmCutMark)
		if !isGSM(out) {
			out = cutRunes(out[:0], rs, n, ucsCutMark)
		}
		if len(out) == 0 {
			return gsmCutMark
		}
		return string(out)
	}
	n := largest(0, len(rs)-1, func(n int) bool { return f.fits(cut(n)) })
	return f.result(cut(n), true)
}

// noLimit is the span limit that cuts nothing.
const noLimit = -1

type partKind int

const (
	textPart partKind = iota
	spanPart
	listPart
)

// part is a piece of a marked text.
type part struct {
	kind  partKind
	text  []rune   // textPart, spanPart
	items [][]rune // listPart
	seps  [][]rune // listPart: seps[i] is between items[i] and items[i+1]
}

// fitter renders the forms of one marked text that Fit chooses among.
type fitter struct {
	parts          []part
	max            int
	transliterated bool
	maxSpan        int // runes of the longest span
	lists          int // number of list parts
	// order lists, for each item in the order it is dropped, the index of its list among the
	// list parts.
	order []int
	keep  []int  // scratch: items kept per list
	buf   []rune // scratch for render
}

func newFitter(marked string, b Budget) *fitter {
	f := &fitter{parts: parse(marked), max: max(b.MaxSegments, 1)}
	if b.GSM7Only {
		tl := func(rs []rune) []rune {
			out, changed := transliterateRunes(rs)
			f.transliterated = f.transliterated || changed
			return out
		}
		for i := range f.parts {
			p := &f.parts[i]
			p.text = tl(p.text)
			for j := range p.items {
				p.items[j] = tl(p.items[j])
			}
			for j := range p.seps {
				p.seps[j] = tl(p.seps[j])
			}
		}
	}
	type drop struct{ list, item int }
	var drops []drop
	for _, p := range f.parts {
		switch p.kind {
		case spanPart:
			f.maxSpan = max(f.maxSpan, len(p.text))
		case listPart:
			for j := range p.items {
				drops = append(drops, drop{f.lists, j})
			}
			f.lists++
		}
	}
	// The highest item position goes first; of equal positions, the later list's.
	slices.SortFunc(drops, func(a, b drop) int {
		if c := cmp.Compare(b.item, a.item); c != 0 {
			return c
		}
		return cmp.Compare(b.list, a.list)
	})
	f.order = make([]int, len(drops))
	for i, d := range drops {
		f.order[i] = d.list
	}
	f.keep = make([]int, f.lists)
	return f
}

func (f *fitter) fits(text string) bool {
	return Measure(text).Segments <= f.max
}

func (f *fitter) result(text string, truncated bool) Result {
	return Result{Text: text, Size: Measure(text), Truncated: truncated, Transliterated: f.transliterated}
}

// render returns the text with spans cut to limit runes (noLimit: not cut) and the first drop
// items of f.order dropped. The cut mark is "..." unless the text is UCS-2 anyway.
func (f *fitter) render(limit, drop int) string {
	rs, cut := f.build(limit, drop, gsmCutMark)
	if cut && !isGSM(rs) {
		rs, _ = f.build(limit, drop, ucsCutMark)
	}
	return string(rs)
}

// build is render with a given cut mark; cut reports whether anything was cut or dropped.
func (f *fitter) build(limit, drop int, mark string) (text []rune, cut bool) {
	li := 0
	for _, p := range f.parts {
		if p.kind == listPart {
			f.keep[li] = len(p.items)
			li++
		}
	}
	for _, l := range f.order[:drop] {
		f.keep[l]--
	}
	b := f.buf[:0]
	li = 0
	for _, p := range f.parts {
		switch p.kind {
		case textPart:
			b = append(b, p.text...)
		case spanPart:
			if limit == noLimit || len(p.text) <= limit {
				b = append(b, p.text...)
				break
			}
			cut = true
			b = cutRunes(b, p.text, limit, mark)
		case listPart:
			k := f.keep[li]
			li++
			for i := range k {
				if i > 0 {
					b = append(b, p.seps[i-1]...)
				}
				b = append(b, p.items[i]...)
			}
			if n := len(p.items) - k; n > 0 {
				cut = true
				if k > 0 {
					b = append(b, p.seps[k-1]...)
				}
				for _, r := range "+" + strconv.Itoa(n) + " more" {
					b = append(b, r)
				}
			}
		}
	}
	f.buf = b
	if cut {
		b = trimSpace(b)
	}
	return b, cut
}

// largestLimit returns the largest span limit in [lo, hi] that fits with drop items dropped;
// lo must fit. A limit of at least f.maxSpan cuts nothing.
func (f *fitter) largestLimit(lo, hi, drop int) int {
	return largest(lo, hi, func(l int) bool { return f.fits(f.render(l, drop)) })
}

// largest returns the largest x in [lo, hi] for which ok holds, assuming ok(lo) and that ok
// holds up to some x and not after it.
func largest(lo, hi int, ok func(int) bool) int {
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// smallest returns the smallest x in [lo, hi] for which ok holds, assuming ok(hi) and that ok
// holds from some x on.
func smallest(lo, hi int, ok func(int) bool) int {
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// parse splits marked into parts. A marker without its partner, or inside a part where it does
// not belong, is dropped and the text around it is plain text.
func parse(marked string) []part {
	rs := []rune(marked)
	var parts []part
	var text []rune
	flush := func() {
		if len(text) > 0 {
			parts = append(parts, part{kind: textPart, text: text})
			text = nil
		}
	}
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == spanStart:
			if end := parseSpan(rs, i+1); end >= 0 {
				flush()
				parts = append(parts, part{kind: spanPart, text: rs[i+1 : end]})
				i = end
			}
		case r == listStart:
			if p, end := parseList(rs, i+1); end >= 0 {
				flush()
				parts = append(parts, p)
				i = end
			}
		case !IsMarker(r):
			text = append(text, r)
		}
	}
	flush()
	return parts
}

// parseSpan returns the index of the spanEnd that closes a span whose text starts at rs[start],
// or -1 when another marker comes first.
func parseSpan(rs []rune, start int) int {
	for i := start; i < len(rs); i++ {
		if rs[i] == spanEnd {
			return i
		}
		if IsMarker(rs[i]) {
			return -1
		}
	}
	return -1
}

// parseList parses the list whose first item starts at rs[start] and returns it with the index
// of its listEnd, or -1 when the list is not well-formed.
func parseList(rs []rune, start int) (part, int) {
	p := part{kind: listPart}
	inSep, from := false, start
	for i := start; i < len(rs); i++ {
		switch rs[i] {
		case listEnd:
			if inSep {
				return part{}, -1
			}
			p.items = append(p.items, rs[from:i])
			return p, i
		case sepStart:
			if inSep {
				return part{}, -1
			}
			p.items = append(p.items, rs[from:i])
			inSep, from = true, i+1
		case sepEnd:
			if !inSep {
				return part{}, -1
			}
			p.seps = append(p.seps, rs[from:i])
			inSep, from = false, i+1
		case spanStart, spanEnd, listStart:
			return part{}, -1
		}
	}
	return part{}, -1
}
