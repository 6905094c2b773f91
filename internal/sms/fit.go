package sms

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markers are private-use characters that Shorten, List, Optional and Legible put around the
// parts of a text that Fit may cut or has to keep legible. They never reach a phone: Fit and
// Strip remove them. A list is
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
	legibleStart
	legibleEnd
	optStart
	optEnd
)

// maxLost is how many characters a GSM7Only text may lose to '?' (see Budget.GSM7Only): an
// emoji or two say little, a word of Chinese does.
const maxLost = 3

// minSpan is the length Fit cuts a Shorten span down to before it drops list items: a summary
// cut to 16 characters still says something, a host list cut to "+40 more" still counts.
const minSpan = 16

// Cut marks. "…" is one character but not GSM-7: in a GSM-7 text it would switch the whole
// message to UCS-2 and cut its room from 160 to 70, so a GSM-7 text gets "..." instead.
const (
	gsmCutMark = "..."
	ucsCutMark = "…"
)

// Blank reports whether s shows nothing: it has only whitespace, format
// characters (zero-width spaces and joiners, direction marks, soft
// hyphens, byte order marks) and variation selectors, or nothing at all.
// Such a text sent as an SMS arrives empty.
func Blank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Variation_Selector, r) {
			return false
		}
	}
	return true
}

// IsMarker reports whether r is one of the characters Shorten and List mark text with. A
// caller that normalises whitespace in marked text should treat them as invisible: the text
// Strip leaves must be the same as if the whitespace had been normalised after Strip.
func IsMarker(r rune) bool {
	return r >= spanStart && r <= optEnd
}

// dropMarkers removes the markers from s; invalid UTF-8 becomes U+FFFD.
func dropMarkers(s string) string {
	if !utf8.ValidString(s) {
		return strings.Map(func(r rune) rune {
			if IsMarker(r) {
				return -1
			}
			return r
		}, s)
	}
	// Copy what lies between the markers rather than rune by rune: Fit strips every message.
	i := nextMarker(s, 0)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) - markerLen)
	from := 0
	for ; i >= 0; i = nextMarker(s, from) {
		b.WriteString(s[from:i])
		from = i + markerLen
	}
	b.WriteString(s[from:])
	return b.String()
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

// Optional marks s as a part that Fit keeps whole or leaves out, before it cuts anything else:
// a link cut short is no link. Of several, the first has precedence: each is kept if it fits with
// those before it that were kept. Markers in s are removed. Empty s stays empty.
func Optional(s string) string {
	s = dropMarkers(s)
	if s == "" {
		return ""
	}
	return string(optStart) + s + string(optEnd)
}

// Legible marks s as text that must not lose a character to '?', such as an alertname: with
// Budget.GSM7Only, a text whose legible parts transliteration cannot keep is sent untransliterated
// instead (see Budget). Fit keeps s as plain text otherwise. Markers in s are removed, so
// Legible inside Shorten, List or Optional has no effect. Empty s stays empty.
func Legible(s string) string {
	s = dropMarkers(s)
	if s == "" {
		return ""
	}
	return string(legibleStart) + s + string(legibleEnd)
}

// List joins items with sep and marks them as a list whose tail Fit may replace with one item
// "+N more", e.g. "api-1,api-2,+5 more". Markers in items and sep are removed, so data cannot
// forge them. No items is the empty string.
func List(items []string, sep string) string {
	if len(items) == 0 {
		return ""
	}
	sep = string(sepStart) + dropMarkers(sep) + string(sepEnd)
	n := 2*markerLen + (len(items)-1)*len(sep)
	for _, item := range items {
		n += len(item)
	}
	var b strings.Builder
	b.Grow(n)
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
// characters without a mark, less a character as shown that would not fit whole (see whole);
// n <= 0 returns "". Markers in s count as characters: Strip first.
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
		return string(rs[:whole(rs, n)])
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
	prefix := trimRightSpace(rs[:whole(rs, keep)])
	if len(prefix) == 0 {
		return dst
	}
	dst = append(dst, prefix...)
	return append(dst, []rune(mark)...)
}

// whole moves a cut of rs after keep runes back to where the character it
// falls in begins, as the reader sees characters: a letter with its
// combining accents, an emoji with its variation selector, skin tone, tags
// or the emoji joined to it, a flag of two regional indicators. A cut must
// not leave half of one (👨‍👩‍ of a family, 🇩 of 🇩🇪, к of ка́).
func whole(rs []rune, keep int) int {
	for keep > 0 && keep < len(rs) {
		switch r := rs[keep]; {
		case unicode.In(r, unicode.Mn, unicode.Me), r >= 0xfe00 && r <= 0xfe0f, r >= 0x1f3fb && r <= 0x1f3ff,
			r == '\u200d', r >= 0xe0020 && r <= 0xe007f, rs[keep-1] == '\u200d':
			keep--
		case regional(r) && regional(rs[keep-1]) && regionalRun(rs[:keep])%2 == 1:
			keep--
		default:
			return keep
		}
	}
	return keep
}

func regional(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }

// regionalRun counts the regional indicators that end rs.
func regionalRun(rs []rune) int {
	n := 0
	for i := len(rs) - 1; i >= 0 && regional(rs[i]); i-- {
		n++
	}
	return n
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
	// that one emoji does not cut the room of the message from 160 characters to 70. Unless
	// that would make it unreadable: when transliteration would turn more than 3 characters of
	// the text (stripped, before anything is cut), or any of a Legible part, into '?' (a
	// Chinese summary, a Japanese alertname), the text is fitted as if GSM7Only were not set,
	// so as UCS-2 if it needs it, and Result.TransliterationSkipped says so.
	GSM7Only bool
}

// Result is a text fitted to a Budget.
type Result struct {
	// Text is ready to send: no markers, at most Budget.MaxSegments segments.
	Text string
	// Size is Measure(Text).
	Size Size
	// Truncated reports that something was cut or left out to fit, and Cut what.
	Truncated bool
	Cut       Cut
	// Transliterated reports that GSM7Only replaced characters of the input (also ones that
	// were then cut).
	Transliterated bool
	// TransliterationSkipped reports that GSM7Only was set, but transliteration would have
	// lost too much to '?' (see Budget.GSM7Only), so the text kept its characters.
	TransliterationSkipped bool
}

// Cut is what Fit cut or left out of a text to fit it, so that a preview can say so; zero when
// nothing was.
type Cut struct {
	// Optional is how many Optional parts were left out.
	Optional int
	// Spans is how many Shorten parts were cut, each to at most SpanLimit characters, the cut
	// mark included, and SpansLeftOut how many were left out, too long for even one character
	// and the mark.
	Spans, SpanLimit, SpansLeftOut int
	// Items is how many list items were dropped and counted in "+N more".
	Items int
	// Whole reports the last resort (step 4 of Fit): the whole text was cut short.
	Whole bool
}

// String says in words what was cut, "" when nothing was, naming parts by the template
// functions that mark them: "1 shorten part cut to at most 40 characters, 2 list items dropped".
func (c Cut) String() string {
	var parts []string
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	}
	if c.Whole {
		parts = append(parts, "the whole text cut short")
	}
	if c.Optional > 0 {
		parts = append(parts, plural(c.Optional, "optional part", "optional parts")+" left out")
	}
	if c.Spans > 0 {
		parts = append(parts, plural(c.Spans, "shorten part", "shorten parts")+" cut to at most "+strconv.Itoa(c.SpanLimit)+" characters")
	}
	if c.SpansLeftOut > 0 {
		parts = append(parts, plural(c.SpansLeftOut, "shorten part", "shorten parts")+" left out")
	}
	if c.Items > 0 {
		parts = append(parts, plural(c.Items, "list item", "list items")+" dropped")
	}
	return strings.Join(parts, ", ")
}

// Fit returns the longest form of marked (text with Shorten, List and Optional parts) that fits
// the budget, cutting in this order:
//
//  1. If the text with all markers stripped fits, it is returned unchanged. Else, if it fits
//     without its Optional parts, they are kept in order, each if it fits with those kept before
//     it; if it does not, they are all left out and the cutting goes on.
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
//     leaves nothing but whitespace of a text that had more, the whole stripped text (without
//     its Optional parts, unless they are all it has) is cut to fit and ends in the cut mark.
//
// The cut mark is "…" when the result is UCS-2 anyway and "..." otherwise: a single "…" would
// turn a GSM-7 message into UCS-2 and halve its room. No space is left before a cut mark, and a
// cut text loses whitespace at its start and end (a part left out may leave some); Fit otherwise
// changes no whitespace, which the caller normalises. Markers without their partner are ignored.
func Fit(marked string, b Budget) Result {
	if b.GSM7Only && lossy(marked) {
		r := fit(marked, Budget{MaxSegments: b.MaxSegments})
		r.TransliterationSkipped = true
		return r
	}
	return fit(marked, b)
}

// lossy reports whether transliterating marked would turn more than maxLost of its characters
// (markers aside), or any character of a Legible part, into '?'. It reads no further than it has
// to.
func lossy(marked string) bool {
	n := 0
	var q marks
	count := func(s string, legible bool) bool {
		for _, r := range s {
			if q.next(r) {
				if n++; legible || n > maxLost {
					return true
				}
			}
		}
		return false
	}
	from := 0 // start of the text not yet counted
	for i := nextMarker(marked, 0); i >= 0; i = nextMarker(marked, from) {
		if count(marked[from:i], false) {
			return true
		}
		from = i + markerLen
		if markerAt(marked, i) != legibleStart {
			continue
		}
		if end := nextMarker(marked, from); end >= 0 && markerAt(marked, end) == legibleEnd {
			if count(marked[from:end], true) {
				return true
			}
			from = end + markerLen
		}
	}
	return count(marked[from:], false)
}

// fit is Fit once GSM7Only is settled. It tries the forms in the order of Fit's steps and takes
// the first that fits and says something.
func fit(marked string, b Budget) Result {
	if r, ok := fitAsIs(marked, b); ok {
		return r
	}
	f := newFitter(marked, b)
	// A text with something to say must not be cut to nothing (a template of many long spans
	// and nothing else, say): then the hard cut says more.
	blank := f.blank()
	worth := func(text string) bool { return blank || strings.TrimSpace(text) != "" }

	if t, c, ok := f.someOptional(); ok && worth(t) {
		return f.result(t, c)
	}
	f.setOptional(false) // the forms below leave the Optional parts out
	if t, c, ok := f.spansCut(); ok && worth(t) {
		return f.result(t, c)
	}
	if t, c, ok := f.itemsDropped(); ok && worth(t) {
		return f.result(t, c)
	}
	if t, c, ok := f.spansCutShort(); ok && worth(t) {
		return f.result(t, c)
	}
	return f.result(f.hardCut(), Cut{Whole: true})
}

// fitAsIs returns the whole text, stripped (and transliterated for GSM7Only), when it fits
// (step 1). Most messages do: the stripped text is what rendering the parsed text in full
// gives, so measuring it once decides, without parsing. A text of more runes than can fit (the
// thousands of instances of a storm) is not even stripped.
func fitAsIs(marked string, b Budget) (Result, bool) {
	segments := max(b.MaxSegments, 1)
	if longer(marked, maxRunes(segments), b.GSM7Only) {
		return Result{}, false
	}
	full, transliterated := Strip(marked), false
	if b.GSM7Only {
		full, transliterated = Transliterate(full)
	}
	size := Measure(full)
	if size.Segments > segments {
		return Result{}, false
	}
	return Result{Text: full, Size: size, Transliterated: transliterated}, true
}

// someOptional renders the text with its Optional parts kept in order while they fit, nothing
// else cut (step 1), and leaves those on. It reports false, with none on, when there are none
// or the text does not fit without them.
func (f *fitter) someOptional() (string, Cut, bool) {
	f.setOptional(false)
	if f.opts == 0 || !f.formFits(noLimit, 0) {
		return "", Cut{}, false
	}
	for i := range f.optOn {
		f.optOn[i] = true
		f.optOn[i] = f.formFits(noLimit, 0)
	}
	text := f.render(noLimit, 0)
	return text, f.cut(text, noLimit, 0), true
}

// spansCut renders the text with its Shorten spans cut to the largest common length that fits,
// not below minSpan, and all list items kept (step 2). It reports false when that does not fit
// or no span is longer than minSpan.
func (f *fitter) spansCut() (string, Cut, bool) {
	if f.maxSpan <= minSpan || !f.formFits(minSpan, 0) {
		return "", Cut{}, false
	}
	limit := f.largestLimit(minSpan, f.maxSpan-1, 0)
	text := f.render(limit, 0)
	return text, f.cut(text, limit, 0), true
}

// itemsDropped renders the text with the fewest list items dropped that let it fit with spans at
// minSpan, and then the spans given back what room is left (step 3). It reports false when there
// are no items or dropping all of them is not enough.
func (f *fitter) itemsDropped() (string, Cut, bool) {
	n := len(f.order)
	if n == 0 || !f.formFits(minSpan, n) {
		return "", Cut{}, false
	}
	drop := smallest(1, n, func(d int) bool { return f.formFits(minSpan, d) })
	limit := f.largestLimit(minSpan, f.maxSpan, drop)
	text := f.render(limit, drop)
	return text, f.cut(text, limit, drop), true
}

// spansCutShort renders the text with all list items dropped and its spans cut below minSpan,
// as long as fits, down to left out (the last resort of step 3). It reports false when there
// are no spans or the text does not fit even without them.
func (f *fitter) spansCutShort() (string, Cut, bool) {
	drop := len(f.order)
	if f.maxSpan <= 0 || !f.formFits(0, drop) {
		return "", Cut{}, false
	}
	limit := f.largestLimit(0, minSpan-1, drop)
	text := f.render(limit, drop)
	return text, f.cut(text, limit, drop), true
}

// hardCut cuts the text at its shortest (spans cut to nothing, every item that can give way
// given way), without its Optional parts unless nothing else is there, to the most runes that
// fit with the cut mark (step 4). Cut at its longest instead, the text kept what gives way
// first and lost what stays longest: eight alertnames of six pods each showed one name and
// its pods, read as 48 alerts of one name.
func (f *fitter) hardCut() string {
	text := f.render(noLimit, len(f.order))
	if strings.TrimSpace(text) == "" {
		f.setOptional(true)
		text = f.render(noLimit, len(f.order))
	}
	// No cut of more than maxRunes runes fits, so one more is all the
	// search needs: not a text of megabytes as runes, copied at each step.
	rs := []rune(prefixRunes(strings.TrimLeftFunc(text, unicode.IsSpace), f.maxRunes+1))
	if len(rs) <= f.maxRunes {
		rs = trimRightSpace(rs)
	}
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
	return cut(n)
}

// noLimit is the span limit that cuts nothing.
const noLimit = -1

type partKind int

const (
	textPart partKind = iota
	spanPart
	listPart
	optPart
)

// part is a piece of a marked text. Text and list items stay strings (slices of the marked
// text): of a storm's thousands of items only the few that are kept are ever rendered.
type part struct {
	kind  partKind
	text  string   // textPart, optPart
	span  []rune   // spanPart, cut by rune
	items []string // listPart
	seps  []string // listPart: seps[i] is between items[i] and items[i+1]
	// solid counts the runes that are not whitespace, which no form of the text trims away: of
	// the text or span, or solid[k] of the first k items and the separators between them.
	solid []int
}

// fitter renders the forms of one marked text that Fit chooses among.
type fitter struct {
	parts          []part
	max            int
	maxRunes       int // a text of more runes does not fit: every rune costs at least one unit
	transliterated bool
	maxSpan        int    // runes of the longest span
	opts           int    // optional parts
	optOn          []bool // which optional parts are rendered
	// order lists, for each item in the order it is dropped, the index of its list among the
	// list parts.
	order []int
	keep  []int  // scratch: items kept per list
	buf   []rune // scratch for render
}

func newFitter(marked string, b Budget) *fitter {
	f := &fitter{parts: parse(marked), max: max(b.MaxSegments, 1)}
	f.maxRunes = maxRunes(f.max)
	tl := func(s string) string { return s }
	if b.GSM7Only {
		tl = func(s string) string {
			out, changed := Transliterate(s)
			f.transliterated = f.transliterated || changed
			return out
		}
	}
	var counts []int // items per list
	for i := range f.parts {
		p := &f.parts[i]
		switch p.kind {
		case textPart, optPart:
			p.text = tl(p.text)
			p.solid = []int{solid(p.text)}
			if p.kind == optPart {
				f.opts++
			}
		case spanPart:
			p.span = []rune(tl(string(p.span)))
			p.solid = []int{solid(string(p.span))}
			f.maxSpan = max(f.maxSpan, len(p.span))
		case listPart:
			p.solid = make([]int, len(p.items)+1)
			for k := range p.items {
				p.items[k] = tl(p.items[k])
				p.solid[k+1] = p.solid[k] + solid(p.items[k])
				if k > 0 {
					p.seps[k-1] = tl(p.seps[k-1])
					p.solid[k+1] += solid(p.seps[k-1])
				}
			}
			counts = append(counts, len(p.items))
		}
	}
	f.order = dropOrder(counts)
	f.keep = make([]int, len(counts))
	f.optOn = make([]bool, f.opts)
	f.setOptional(true)
	return f
}

// setOptional renders all optional parts, or none.
func (f *fitter) setOptional(on bool) {
	for i := range f.optOn {
		f.optOn[i] = on
	}
}

// dropOrder returns, for lists of counts items each, the list of each item in the order items
// are dropped: the items at the highest position of all lists first, of equal positions the
// later list's first. Every count must be at least 1.
func dropOrder(counts []int) []int {
	longest := 0
	for _, c := range counts {
		longest = max(longest, c)
	}
	// next[j] is first the number of lists with an item at position j, then where in the order
	// the next item at position j goes.
	next := make([]int, longest)
	for _, c := range counts {
		next[c-1]++
	}
	for j := longest - 2; j >= 0; j-- {
		next[j] += next[j+1]
	}
	total := 0
	for j := longest - 1; j >= 0; j-- {
		next[j], total = total, total+next[j]
	}
	order := make([]int, total)
	for l := len(counts) - 1; l >= 0; l-- {
		for j := range counts[l] {
			order[next[j]] = l
			next[j]++
		}
	}
	return order
}

func (f *fitter) fits(text string) bool {
	return Measure(text).Segments <= f.max
}

// formFits reports whether the text with spans cut to limit and drop items dropped fits. A
// form that keeps more solid runes than fit is rejected without being rendered: when a storm's
// list of thousands of items has to become a few and "+N more", the search for how many tries
// forms of half the items, a quarter, and so on, and building and measuring each would cost as
// much as the whole text again.
func (f *fitter) formFits(limit, drop int) bool {
	f.count(drop)
	runes, li, oi := 0, 0, 0
	for _, p := range f.parts {
		switch p.kind {
		case textPart:
			runes += p.solid[0]
		case optPart:
			if f.optOn[oi] {
				runes += p.solid[0]
			}
			oi++
		case spanPart:
			if limit == noLimit || len(p.span) <= limit {
				runes += p.solid[0]
			}
		case listPart:
			runes += p.solid[f.keep[li]]
			li++
		}
	}
	return runes <= f.maxRunes && f.fits(f.render(limit, drop))
}

// count sets f.keep to the items each list keeps when the first drop items of f.order are
// dropped. It counts what is kept rather than what is dropped: in a storm, the forms worth
// trying keep few of many items.
func (f *fitter) count(drop int) {
	clear(f.keep)
	for _, l := range f.order[drop:] {
		f.keep[l]++
	}
}

// blank reports whether the text has nothing but whitespace (or nothing at all).
func (f *fitter) blank() bool {
	for _, p := range f.parts {
		if p.solid[len(p.solid)-1] > 0 {
			return false
		}
	}
	return true
}

// prefixRunes is s up to its nth rune, or all of s.
func prefixRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// maxRunes returns the most runes a text can have and fit in segments: every rune costs at least
// one unit, GSM-7 or UCS-2.
func maxRunes(segments int) int {
	if segments <= 1 {
		return gsmSingle
	}
	return gsmConcat * min(segments, math.MaxInt/gsmConcat)
}

// longer reports whether marked, stripped and, with gsm7, transliterated, has more than n runes.
// It reads no further than it has to. With gsm7 only the runes in GSM-7 count, since
// transliteration may remove the others.
func longer(marked string, n int, gsm7 bool) bool {
	for _, r := range marked {
		if IsMarker(r) || gsm7 && septets(r) == 0 {
			continue
		}
		if n--; n < 0 {
			return true
		}
	}
	return false
}

// solid returns the runes of s that are not whitespace.
func solid(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < utf8.RuneSelf {
			if !asciiSpace[c] {
				n++
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			n++
		}
		i += size - 1
	}
	return n
}

// asciiSpace marks the ASCII characters unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// result is a form of the text that was cut to fit, as c says.
func (f *fitter) result(text string, c Cut) Result {
	return Result{Text: text, Size: Measure(text), Truncated: true, Cut: c, Transliterated: f.transliterated}
}

// cut says what text, the form with spans cut to limit and drop items dropped, leaves out,
// with the Optional parts that are off. A span cut to limit is left out when not even one of its
// characters fits before the cut mark that render chose.
func (f *fitter) cut(text string, limit, drop int) Cut {
	c := Cut{Items: drop}
	for _, on := range f.optOn {
		if !on {
			c.Optional++
		}
	}
	if limit == noLimit {
		return c
	}
	mark := gsmCutMark
	if !isGSM([]rune(text)) {
		mark = ucsCutMark
	}
	for _, p := range f.parts {
		switch {
		case p.kind != spanPart || len(p.span) <= limit:
		case len(cutRunes(nil, p.span, limit, mark)) == 0:
			c.SpansLeftOut++
		default:
			c.Spans++
		}
	}
	if c.Spans > 0 {
		c.SpanLimit = limit
	}
	return c
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
	f.count(drop)
	b := f.buf[:0]
	li, oi := 0, 0
	for _, p := range f.parts {
		switch p.kind {
		case textPart:
			b = appendString(b, p.text)
		case optPart:
			if f.optOn[oi] {
				b = appendString(b, p.text)
			} else {
				cut = true
			}
			oi++
		case spanPart:
			if limit == noLimit || len(p.span) <= limit {
				b = append(b, p.span...)
				break
			}
			cut = true
			b = cutRunes(b, p.span, limit, mark)
		case listPart:
			k := f.keep[li]
			li++
			for i := range k {
				if i > 0 {
					b = appendString(b, p.seps[i-1])
				}
				b = appendString(b, p.items[i])
			}
			if n := len(p.items) - k; n > 0 {
				cut = true
				if k > 0 {
					b = appendString(b, p.seps[k-1])
				}
				b = appendString(b, "+"+strconv.Itoa(n)+" more")
			}
		}
	}
	f.buf = b
	if cut {
		b = trimSpace(b)
	}
	return b, cut
}

// appendString appends the runes of s to b; invalid UTF-8 becomes U+FFFD.
func appendString(b []rune, s string) []rune {
	if len(s) > 256 {
		// Grown once, not by a quarter at a time: a long text otherwise
		// allocates five times its size as runes.
		b = slices.Grow(b, utf8.RuneCountInString(s))
	}
	for _, r := range s {
		b = append(b, r)
	}
	return b
}

// largestLimit returns the largest span limit in [lo, hi] that fits with drop items dropped;
// lo must fit. A limit of at least f.maxSpan cuts nothing.
func (f *fitter) largestLimit(lo, hi, drop int) int {
	return largest(lo, hi, func(l int) bool { return f.formFits(l, drop) })
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
	var parts []part
	text := func(s string) {
		if s != "" {
			parts = append(parts, part{kind: textPart, text: s})
		}
	}
	from := 0 // where the text not yet in parts starts
	for i := nextMarker(marked, 0); i >= 0; i = nextMarker(marked, i) {
		var p part
		end := -1
		switch markerAt(marked, i) {
		case spanStart:
			if end = parseSpan(marked, i+markerLen, spanEnd); end >= 0 {
				p = part{kind: spanPart, span: []rune(marked[i+markerLen : end])}
			}
		case optStart:
			if end = parseSpan(marked, i+markerLen, optEnd); end >= 0 {
				p = part{kind: optPart, text: marked[i+markerLen : end]}
			}
		case listStart:
			p, end = parseList(marked, i+markerLen)
		}
		text(marked[from:i])
		if end < 0 {
			// Not the start of a well-formed part: drop the marker, go on after it.
			i += markerLen
		} else {
			parts = append(parts, p)
			i = end + markerLen
		}
		from = i
	}
	text(marked[from:])
	return parts
}

// markerLen is the length of every marker in UTF-8: the markers are U+E000 to U+E009, encoded
// as EE 80 80 to EE 80 89. EE is never a continuation byte and invalid UTF-8 is decoded one byte
// at a time, so these bytes are a marker wherever they occur, as they are when decoding runes.
const markerLen = 3

// nextMarker returns the index of the first marker in s at or after from, or -1.
func nextMarker(s string, from int) int {
	for from < len(s) {
		i := strings.IndexByte(s[from:], 0xEE)
		if i < 0 {
			return -1
		}
		i += from
		if i+markerLen <= len(s) && s[i+1] == 0x80 && s[i+2] >= 0x80 && s[i+2] <= 0x89 {
			return i
		}
		from = i + 1
	}
	return -1
}

// markerAt returns the marker at s[i], where nextMarker found one.
func markerAt(s string, i int) rune {
	return spanStart + rune(s[i+2]-0x80)
}

// parseSpan returns the index of the marker end that closes a span (or optional part) whose
// text starts at s[start], or -1 when another marker comes first.
func parseSpan(s string, start int, end rune) int {
	if i := nextMarker(s, start); i >= 0 && markerAt(s, i) == end {
		return i
	}
	return -1
}

// parseList parses the list whose first item starts at s[start] and returns it with the index
// of its listEnd, or -1 when the list is not well-formed.
func parseList(s string, start int) (part, int) {
	p := part{kind: listPart}
	inSep, from := false, start
	for i := nextMarker(s, start); i >= 0; i = nextMarker(s, i+markerLen) {
		switch markerAt(s, i) {
		case listEnd:
			if inSep {
				return part{}, -1
			}
			p.items = append(p.items, s[from:i])
			return p, i
		case sepStart:
			if inSep {
				return part{}, -1
			}
			p.items = append(p.items, s[from:i])
			inSep, from = true, i+markerLen
		case sepEnd:
			if !inSep {
				return part{}, -1
			}
			p.seps = append(p.seps, s[from:i])
			inSep, from = false, i+markerLen
		default: // any other marker
			return part{}, -1
		}
	}
	return part{}, -1
}
