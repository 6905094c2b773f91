package schedule

import (
	"testing"
	"time"
	_ "time/tzdata" // the tests need the same zones on every machine
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustLocal(t testing.TB, s string) LocalTime {
	t.Helper()
	l, err := ParseLocalTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mustInstant reads an RFC 3339 instant; tests write the offset, so that
// which of two equal wall times is meant is never in doubt.
func mustInstant(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLocalTimeIn(t *testing.T) {
	for _, tc := range []struct {
		name, zone, local, want string
	}{
		{"plain winter", "Europe/Berlin", "2024-01-15 09:00", "2024-01-15T09:00:00+01:00"},
		{"plain summer", "Europe/Berlin", "2024-07-15 09:00", "2024-07-15T09:00:00+02:00"},
		{"Berlin spring: before the jump", "Europe/Berlin", "2024-03-31 01:59:59", "2024-03-31T01:59:59+01:00"},
		{"Berlin spring: 02:00 is skipped", "Europe/Berlin", "2024-03-31 02:00", "2024-03-31T03:00:00+02:00"},
		{"Berlin spring: 02:30 is skipped", "Europe/Berlin", "2024-03-31 02:30", "2024-03-31T03:00:00+02:00"},
		{"Berlin spring: 02:59:59 is skipped", "Europe/Berlin", "2024-03-31 02:59:59", "2024-03-31T03:00:00+02:00"},
		{"Berlin spring: 03:00 exists", "Europe/Berlin", "2024-03-31 03:00", "2024-03-31T03:00:00+02:00"},
		{"Berlin fall: 02:00 first", "Europe/Berlin", "2024-10-27 02:00", "2024-10-27T02:00:00+02:00"},
		{"Berlin fall: 02:30 first", "Europe/Berlin", "2024-10-27 02:30", "2024-10-27T02:30:00+02:00"},
		{"Berlin fall: 02:59:59 first", "Europe/Berlin", "2024-10-27 02:59:59", "2024-10-27T02:59:59+02:00"},
		{"Berlin fall: 03:00 once", "Europe/Berlin", "2024-10-27 03:00", "2024-10-27T03:00:00+01:00"},
		{"Sydney spring (October)", "Australia/Sydney", "2024-10-06 02:30", "2024-10-06T03:00:00+11:00"},
		{"Sydney fall (April) first", "Australia/Sydney", "2024-04-07 02:30", "2024-04-07T02:30:00+11:00"},
		{"New York spring", "America/New_York", "2024-03-10 02:30", "2024-03-10T03:00:00-04:00"},
		{"New York fall first", "America/New_York", "2024-11-03 01:30", "2024-11-03T01:30:00-04:00"},
		{"Lord Howe half-hour jump", "Australia/Lord_Howe", "2024-10-06 02:15", "2024-10-06T02:30:00+11:00"},
		{"Lord Howe half-hour back, first", "Australia/Lord_Howe", "2024-04-07 01:45", "2024-04-07T01:45:00+11:00"},
		{"Samoa skipped a whole day", "Pacific/Apia", "2011-12-30 09:00", "2011-12-31T00:00:00+14:00"},
		{"leap day", "Europe/Berlin", "2028-02-29 09:00", "2028-02-29T09:00:00+01:00"},
		{"UTC", "UTC", "2024-03-31 02:30", "2024-03-31T02:30:00Z"},
		{"before 1970", "Europe/Berlin", "1969-12-31 23:59:59", "1969-12-31T23:59:59+01:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustLocal(t, tc.local).In(mustLoc(t, tc.zone))
			if want := mustInstant(t, tc.want); !got.Equal(want) {
				t.Errorf("%s in %s = %s, want %s", tc.local, tc.zone, got.Format(time.RFC3339), want.Format(time.RFC3339))
			}
			if got.Location().String() != tc.zone {
				t.Errorf("location %s, want %s", got.Location(), tc.zone)
			}
		})
	}
}

// TestTimeDateDisagrees keeps the claim in LocalTime.In's documentation
// honest: time.Date resolves missing and repeated times differently east
// and west of UTC, which is why the package does not use it.
func TestTimeDateDisagrees(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		local LocalTime
		want  string
	}{
		{"Europe/Berlin", LocalTime{2024, 3, 31, 2, 30, 0}, "2024-03-31T03:30:00+02:00"},
		{"America/New_York", LocalTime{2024, 3, 10, 2, 30, 0}, "2024-03-10T01:30:00-05:00"},
		{"Europe/Berlin", LocalTime{2024, 10, 27, 2, 30, 0}, "2024-10-27T02:30:00+01:00"},
		{"America/New_York", LocalTime{2024, 11, 3, 1, 30, 0}, "2024-11-03T01:30:00-04:00"},
	} {
		l := tc.local
		got := time.Date(l.Year, l.Month, l.Day, l.Hour, l.Minute, l.Second, 0, mustLoc(t, tc.zone))
		if want := mustInstant(t, tc.want); !got.Equal(want) {
			t.Errorf("time.Date(%s in %s) = %s, the documentation says %s", l, tc.zone, got.Format(time.RFC3339), tc.want)
		}
	}
}

func TestParseLocalTime(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    LocalTime
		wantErr bool
	}{
		{in: "2024-03-04 09:00", want: LocalTime{2024, 3, 4, 9, 0, 0}},
		{in: "2024-03-04T09:00", want: LocalTime{2024, 3, 4, 9, 0, 0}},
		{in: "2024-03-04 09:00:05", want: LocalTime{2024, 3, 4, 9, 0, 5}},
		{in: "2024-03-04T09:00:05", want: LocalTime{2024, 3, 4, 9, 0, 5}},
		{in: "2028-02-29 00:00", want: LocalTime{2028, 2, 29, 0, 0, 0}},
		{in: "2027-02-29 00:00", wantErr: true},
		{in: "2024-03-04T09:00:00+01:00", wantErr: true},
		{in: "2024-03-04T09:00:00Z", wantErr: true},
		{in: "2024-03-04", wantErr: true},
		{in: "09:00", wantErr: true},
		{in: "2024-03-04 24:00", wantErr: true},
		{in: "", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLocalTime(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseLocalTime(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseLocalTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			var back LocalTime
			text, _ := got.MarshalText()
			if err := back.UnmarshalText(text); err != nil || back != got {
				t.Errorf("round trip through %q = %v, %v", text, back, err)
			}
		})
	}
}
