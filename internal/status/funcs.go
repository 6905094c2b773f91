package status

import (
	"html/template"
	"strconv"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/delivery"
)

// funcs are the page template's functions.
var funcs = template.FuncMap{
	"when":    when,
	"whenPtr": whenPtr,
	"ago":     ago,
	"amount":  func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	"outcome": outcomeClass,
	"add":     func(a, b int) int { return a + b },
	// css is the embedded style, trusted as it is: the CSP names its hash.
	"css": func() template.CSS { return template.CSS(styleCSS) },
}

// when is t on loc's clock with its zone named, "never" when zero.
func when(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "never"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
}

// whenPtr is when of *t, "–" when nil.
func whenPtr(t *time.Time, loc *time.Location) string {
	if t == nil {
		return "–"
	}
	return when(*t, loc)
}

// ago is how long before now t was, to the second: "3m20s ago".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}

// outcomeClass is the CSS class of an outcome: ok, muted, warn or bad.
func outcomeClass(o delivery.Outcome) string {
	switch o {
	case delivery.Accepted:
		return "ok"
	case delivery.Deduplicated:
		return "muted"
	case delivery.Suppressed, delivery.Unknown:
		return "warn"
	default:
		return "bad"
	}
}
