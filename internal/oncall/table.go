package oncall

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// tableTime is how the table shows an instant: on the schedule's clock,
// with the zone's abbreviation, to the second only when it has seconds.
func tableTime(t *time.Time) string {
	switch {
	case t == nil:
		return "…"
	case t.Second() != 0 || t.Nanosecond() != 0:
		return t.Format("Mon 2006-01-02 15:04:05 MST")
	default:
		return t.Format("Mon 2006-01-02 15:04 MST")
	}
}

// WriteTable prints the listing for a person: per schedule, who is on call
// now and who comes next, one shift a line, from when to when.
func WriteTable(w io.Writer, l Listing) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "at %s\n\n", l.At.Format(time.RFC3339))
	fmt.Fprintln(tw, "SCHEDULE\tFROM\tUNTIL\tON CALL\tBY")
	for _, s := range l.Schedules {
		name := s.Name + " (" + s.TimeZone + ")"
		row(tw, name, s.OnCall)
		for _, sh := range s.Next {
			row(tw, "", sh)
		}
	}
	return tw.Flush()
}

func row(w io.Writer, name string, sh Shift) {
	who := strings.Join(sh.Contacts, ", ")
	if len(sh.Members) == 1 && len(sh.Contacts) != 1 {
		who = sh.Members[0] + ": " + who // a group: its name, then its people
	}
	if who == "" {
		who = "nobody"
	}
	by := string(sh.Source)
	if sh.Layer != "" {
		by += " " + sh.Layer
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, tableTime(sh.Since), tableTime(sh.Until), who, by)
}
