package sms

import (
	"runtime"
	"strings"
	"testing"
)

// TestFitCut: Result.Cut says what each of Fit's steps left out, as a
// preview shows it.
func TestFitCut(t *testing.T) {
	long := ": " + nocut(300)
	one := Budget{MaxSegments: 1}
	tests := []struct {
		name   string
		marked string
		want   Cut
		words  string
	}{
		{
			name:   "nothing cut",
			marked: "FIRING 2 A " + List([]string{"h1", "h2"}, ",") + Shorten(": disk full") + Optional(" see x"),
		},
		{
			name:   "optional parts kept while they fit",
			marked: nocut(140) + Optional(" abcdefgh") + Optional(" abcdefghijklmn"),
			want:   Cut{Optional: 1},
			words:  "1 optional part left out",
		},
		{
			name:   "span shortened",
			marked: "FIRING 2 Alert " + List([]string{"h1", "h2"}, ",") + Shorten(long),
			want:   Cut{Spans: 1, SpanLimit: 140},
			words:  "1 shorten part cut to at most 140 characters",
		},
		{
			name:   "many spans share the room",
			marked: strings.Repeat(Shorten(nocut(26)), 20),
			want:   Cut{Spans: 20, SpanLimit: 8},
			words:  "20 shorten parts cut to at most 8 characters",
		},
		{
			name:   "items dropped",
			marked: nocut(145) + " " + List(letters(50), ","),
			want:   Cut{Items: 47},
			words:  "47 list items dropped",
		},
		{
			name:   "items dropped, then the span regrows",
			marked: "FIRING 50 X " + List(hosts(50), ",") + Shorten(long) + Optional(" see x"),
			want:   Cut{Optional: 1, Spans: 1, SpanLimit: 20, Items: 35},
			words:  "1 optional part left out, 1 shorten part cut to at most 20 characters, 35 list items dropped",
		},
		{
			name:   "span left out",
			marked: nocut(150) + " " + List(hosts(3), ",") + Shorten(long),
			want:   Cut{SpansLeftOut: 1, Items: 3},
			words:  "1 shorten part left out, 3 list items dropped",
		},
		{
			name:   "UCS-2 span of one character and its mark",
			marked: "磁盘 " + nocut(62) + Shorten("abc") + " " + Shorten(nocut(30)),
			want:   Cut{Spans: 2, SpanLimit: 2},
			words:  "2 shorten parts cut to at most 2 characters",
		},
		{
			name:   "hard cut",
			marked: words(200) + List(hosts(3), ",") + Shorten(long),
			want:   Cut{Whole: true},
			words:  "the whole text cut short",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fit(tt.marked, one)
			if got.Cut != tt.want {
				t.Errorf("Cut = %+v, want %+v (text %q)", got.Cut, tt.want, got.Text)
			}
			if got.Truncated != (tt.want != Cut{}) {
				t.Errorf("Truncated = %t with Cut %+v", got.Truncated, got.Cut)
			}
			if s := got.Cut.String(); s != tt.words {
				t.Errorf("Cut.String() = %q, want %q", s, tt.words)
			}
		})
	}
}

// TestHardCutOfAHugeTextIsBounded: cutting a text of megabytes to one SMS
// reads only the runes that can fit. It held the whole text as runes and
// copied half of it at each step of the search: 32 times the text's size.
func TestHardCutOfAHugeTextIsBounded(t *testing.T) {
	text := strings.Repeat("x", 2<<20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := Fit(text, Budget{MaxSegments: 1})
	runtime.ReadMemStats(&after)
	if want := strings.Repeat("x", 157) + "..."; got.Text != want {
		t.Fatalf("Fit = %q, want %q", got.Text, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("fitting a 2 MiB text allocated %d MiB, want at most 32", alloc>>20)
	}
}
