package account

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate/sipgatetest"
)

const (
	user     = "token-ABC123"
	password = "pa55-Secret-Token"
)

// checkedAt is the test clock's time: every check ends at it.
var checkedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// logs is a logger that keeps what it logs, as JSON lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// entries returns the logged records with message msg.
func (l *logs) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// fakeChecker is a checker of an account on the fake sipgate, with its
// metrics on a registry of their own and its logs kept.
func fakeChecker(t *testing.T, lowBalance float64) (*sipgatetest.Server, *Checker, *prometheus.Registry, *logs) {
	t.Helper()
	fake := sipgatetest.NewServer(user, password)
	t.Cleanup(fake.Close)
	client := sipgate.New(sipgate.Options{BaseURL: fake.URL, Username: user, Password: password})
	l := &logs{}
	c := New(Options{Client: client, LowBalance: lowBalance, Timeout: 10 * time.Second, Logger: l.logger(),
		Now: func() time.Time { return checkedAt }})
	reg := prometheus.NewPedanticRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	return fake, c, reg, l
}

// exposition is the text format of the account metrics, for the lines
// given (without HELP and TYPE).
func exposition(lines ...string) string {
	help := map[string]string{
		MetricUp:          "# HELP alertmanager_sipgate_sipgate_up 1 when the last check of the sipgate account succeeded: sipgate answered, accepted the credentials and told the balance; 0 when it failed.\n# TYPE alertmanager_sipgate_sipgate_up gauge\n",
		MetricBalance:     "# HELP alertmanager_sipgate_balance The sipgate account's balance at the last successful check, in units of the currency (12.34 is 12.34 EUR).\n# TYPE alertmanager_sipgate_balance gauge\n",
		MetricSuccessTime: "# HELP alertmanager_sipgate_account_check_success_timestamp_seconds When a check of the sipgate account last succeeded, in Unix seconds.\n# TYPE alertmanager_sipgate_account_check_success_timestamp_seconds gauge\n",
		MetricBalanceLow:  "# HELP alertmanager_sipgate_balance_low 1 when the sipgate account's balance at the last successful check is below sipgate.low_balance, else 0 (always 0 without a threshold).\n# TYPE alertmanager_sipgate_balance_low gauge\n",
	}
	var b strings.Builder
	for _, l := range lines {
		name, _, _ := strings.Cut(l, " ")
		name, _, _ = strings.Cut(name, "{")
		b.WriteString(help[name] + l + "\n")
	}
	return b.String()
}

var allMetrics = []string{MetricUp, MetricBalance, MetricSuccessTime, MetricBalanceLow}

func TestCheckMetrics(t *testing.T) {
	tests := []struct {
		name    string
		low     float64
		setup   func(*sipgatetest.Server)
		wantUp  bool
		wantErr string
		want    []string
	}{
		{name: "fine", low: 5, setup: func(s *sipgatetest.Server) { s.SetBalance(123400, "EUR") }, wantUp: true, want: []string{
			`alertmanager_sipgate_account_check_success_timestamp_seconds 1.767323045e+09`,
			`alertmanager_sipgate_balance{currency="EUR"} 12.34`,
			`alertmanager_sipgate_balance_low 0`,
			`alertmanager_sipgate_sipgate_up 1`,
		}},
		{name: "low", low: 20, setup: func(s *sipgatetest.Server) { s.SetBalance(123400, "EUR") }, wantUp: true, want: []string{
			`alertmanager_sipgate_account_check_success_timestamp_seconds 1.767323045e+09`,
			`alertmanager_sipgate_balance{currency="EUR"} 12.34`,
			`alertmanager_sipgate_balance_low 1`,
			`alertmanager_sipgate_sipgate_up 1`,
		}},
		{name: "no threshold", setup: func(s *sipgatetest.Server) { s.SetBalance(0, "CHF") }, wantUp: true, want: []string{
			`alertmanager_sipgate_account_check_success_timestamp_seconds 1.767323045e+09`,
			`alertmanager_sipgate_balance{currency="CHF"} 0`,
			`alertmanager_sipgate_balance_low 0`,
			`alertmanager_sipgate_sipgate_up 1`,
		}},
		{name: "credentials rejected", low: 5, setup: func(s *sipgatetest.Server) { s.RevokeCredentials(true) },
			wantErr: "sipgate rejected the credentials (401)", want: []string{`alertmanager_sipgate_sipgate_up 0`}},
		{name: "balance scope missing", low: 5, setup: func(s *sipgatetest.Server) { s.AccountForbidden(false, true) },
			wantErr: "sipgate denied reading the balance: the token needs the balance read scope (403)", want: []string{`alertmanager_sipgate_sipgate_up 0`}},
		{name: "sipgate down", low: 5, setup: func(s *sipgatetest.Server) { s.Down(503, "") },
			wantErr: "sipgate server error checking the credentials (503)", want: []string{`alertmanager_sipgate_sipgate_up 0`}},
		{name: "balance unreadable", low: 5, setup: func(s *sipgatetest.Server) { s.BalanceBody("{") },
			wantErr: "cannot read sipgate's balance answer", want: []string{`alertmanager_sipgate_sipgate_up 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, reg, l := fakeChecker(t, tt.low)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(""), allMetrics...); err != nil {
				t.Errorf("before the first check: %v", err)
			}
			tt.setup(fake)
			s := c.Check(context.Background())
			if s.Up != tt.wantUp || !strings.Contains(s.Err, tt.wantErr) || (tt.wantErr == "") != (s.Err == "") {
				t.Errorf("state Up %v, Err %q; want %v, %q", s.Up, s.Err, tt.wantUp, tt.wantErr)
			}
			if s.Checked != checkedAt || s != c.State() {
				t.Errorf("Check returned %+v, State() is %+v; want both checked at %v", s, c.State(), checkedAt)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(exposition(tt.want...)), allMetrics...); err != nil {
				t.Error(err)
			}
			if strings.Contains(l.String(), password) || strings.Contains(s.Err, password) {
				t.Errorf("the password leaked: state %+v, logs %s", s, l)
			}
		})
	}
}

// TestFailureKeepsTheLastBalance: a failed check says so in up, and keeps
// the balance and success time it last read; a balance in another currency
// replaces the old series.
func TestFailureKeepsTheLastBalance(t *testing.T) {
	fake, c, reg, _ := fakeChecker(t, 0)
	fake.SetBalance(500000, "EUR")
	c.Check(context.Background())
	fake.Down(503, "")
	s := c.Check(context.Background())
	if s.Up || !s.HasBalance || s.Balance != 50 || s.Currency != "EUR" || s.LastSuccess != checkedAt || s.User != "w0" {
		t.Errorf("after a failure: %+v; want down, keeping 50 EUR of user w0 and the last success", s)
	}
	want := exposition(
		`alertmanager_sipgate_account_check_success_timestamp_seconds 1.767323045e+09`,
		`alertmanager_sipgate_balance{currency="EUR"} 50`,
		`alertmanager_sipgate_balance_low 0`,
		`alertmanager_sipgate_sipgate_up 0`,
	)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), allMetrics...); err != nil {
		t.Error(err)
	}

	fake.Up()
	fake.SetBalance(77000, "CHF")
	if s := c.Check(context.Background()); !s.Up || s.Err != "" {
		t.Errorf("after recovery: %+v, want up without error", s)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exposition(`alertmanager_sipgate_balance{currency="CHF"} 7.7`)), MetricBalance); err != nil {
		t.Errorf("only the current currency's series: %v", err)
	}
}

// TestLowBalanceWarnsOncePerCrossing: the warning comes when the balance
// falls below the threshold, not again while it stays there (failed
// checks between included), and again after it was back above.
func TestLowBalanceWarnsOncePerCrossing(t *testing.T) {
	const warning, recovered = "sipgate balance below sipgate.low_balance: top up the account before SMS fail", "sipgate balance back above sipgate.low_balance"
	fake, c, _, l := fakeChecker(t, 5)
	steps := []struct {
		amount        int64 // ten-thousandths of EUR; -1: sipgate down
		wantLow       bool
		wantWarnings  int
		wantRecovered int
	}{
		{amount: 1000000, wantLow: false},
		{amount: 50000, wantLow: false}, // exactly 5: not below
		{amount: 49999, wantLow: true, wantWarnings: 1},
		{amount: 30000, wantLow: true, wantWarnings: 1},
		{amount: -1, wantLow: true, wantWarnings: 1},
		{amount: 20000, wantLow: true, wantWarnings: 1},
		{amount: 100000, wantLow: false, wantWarnings: 1, wantRecovered: 1},
		{amount: 10000, wantLow: true, wantWarnings: 2, wantRecovered: 1},
	}
	for i, st := range steps {
		if st.amount < 0 {
			fake.Down(503, "")
		} else {
			fake.Up()
			fake.SetBalance(st.amount, "EUR")
		}
		s := c.Check(context.Background())
		if s.Low != st.wantLow {
			t.Errorf("step %d (%d): Low = %v, want %v", i, st.amount, s.Low, st.wantLow)
		}
		if got := len(l.entries(t, warning)); got != st.wantWarnings {
			t.Errorf("step %d (%d): %d warnings, want %d", i, st.amount, got, st.wantWarnings)
		}
		if got := len(l.entries(t, recovered)); got != st.wantRecovered {
			t.Errorf("step %d (%d): %d back-above lines, want %d", i, st.amount, got, st.wantRecovered)
		}
	}
	w := l.entries(t, warning)[0]
	if w["level"] != "WARN" || w["balance"] != "4.9999" || w["currency"] != "EUR" || w["low_balance"] != "5" {
		t.Errorf("warning = %v, want level WARN, balance 4.9999, currency EUR, low_balance 5", w)
	}
}

// TestCheckLogs: a failure is a warning each time with its reason; a
// success is info when it is news, debug when it is not.
func TestCheckLogs(t *testing.T) {
	fake, c, _, l := fakeChecker(t, 0)
	c.Check(context.Background())
	c.Check(context.Background())
	fake.RevokeCredentials(true)
	c.Check(context.Background())
	fake.RevokeCredentials(false)
	c.Check(context.Background())

	var levels []string
	for _, e := range l.entries(t, "sipgate account checked") {
		levels = append(levels, e["level"].(string))
	}
	if got := strings.Join(levels, " "); got != "INFO DEBUG INFO" {
		t.Errorf("successes logged at %q, want INFO DEBUG INFO", got)
	}
	failed := l.entries(t, "sipgate account check failed")
	if len(failed) != 1 || failed[0]["level"] != "WARN" || failed[0]["reason"] != "auth" || failed[0]["temporary"] != false ||
		failed[0]["err"] != "sipgate rejected the credentials (401)" {
		t.Errorf("failures logged %v, want one warning of reason auth", failed)
	}
	if strings.Contains(l.String(), password) {
		t.Errorf("logs leak the password: %s", l)
	}
}

// scripted is a Client whose balance the test hands over one check at a
// time: Balance waits for the next value, or for its context to end.
type scripted struct {
	balances chan sipgate.Balance
	mu       sync.Mutex
	calls    int
}

func (s *scripted) Userinfo(context.Context) (sipgate.Userinfo, error) {
	return sipgate.Userinfo{Sub: "w0"}, nil
}

func (s *scripted) Balance(ctx context.Context) (sipgate.Balance, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	select {
	case b := <-s.balances:
		return b, nil
	case <-ctx.Done():
		return sipgate.Balance{}, ctx.Err()
	}
}

// TestRunChecksAtStartAndEveryTick drives the loop with a tick channel: a
// check at once, then one per tick, none in between, none after ctx ends.
// An unbuffered tick is taken only once the previous check is recorded,
// so the state can be read right after it.
func TestRunChecksAtStartAndEveryTick(t *testing.T) {
	client := &scripted{balances: make(chan sipgate.Balance)}
	c := New(Options{Client: client, Now: func() time.Time { return checkedAt }})
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, ticks) }()

	for i, amount := range []int64{10000, 20000, 30000} {
		client.balances <- sipgate.Balance{Amount: amount, Currency: "EUR"} // check i
		ticks <- checkedAt                                                  // taken once check i is recorded
		if s := c.State(); !s.Up || s.Balance != float64(amount)/10000 {
			t.Errorf("after check %d: %+v, want up with %v EUR", i, s, float64(amount)/10000)
		}
	}
	// The last tick started a check that waits for a balance; stopping
	// ends it without recording a failure.
	cancel()
	<-done
	if s := c.State(); !s.Up || s.Balance != 3 {
		t.Errorf("after stopping: %+v, want the last check's state, up with 3 EUR", s)
	}
	client.mu.Lock()
	defer client.mu.Unlock()
	if client.calls != 4 {
		t.Errorf("%d checks, want 4: one at start and one per tick", client.calls)
	}
}

// TestCheckTimeout: a check that sipgate does not answer in time fails,
// and says so.
func TestCheckTimeout(t *testing.T) {
	c := New(Options{Client: &scripted{balances: make(chan sipgate.Balance)}, Timeout: 50 * time.Millisecond})
	s := c.Check(context.Background())
	if s.Up || !strings.Contains(s.Err, context.DeadlineExceeded.Error()) || s.Checked.IsZero() {
		t.Errorf("state %+v, want a recorded failure by deadline", s)
	}
}

// TestCheckStoppedRecordsNothing: a check cut short by shutdown is no
// failure of sipgate.
func TestCheckStoppedRecordsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := New(Options{Client: &scripted{balances: make(chan sipgate.Balance)}})
	if s := c.Check(ctx); !s.Checked.IsZero() || s.Up || s.Err != "" {
		t.Errorf("state %+v, want nothing recorded", s)
	}
}

// TestSkipped: a skipped checker checks nothing, exposes no metrics, says
// why in its state, and logs it when run.
func TestSkipped(t *testing.T) {
	l := &logs{}
	c := Skipped("dry run", l.logger())
	reg := prometheus.NewPedanticRegistry()
	if err := c.Register(reg); err != nil {
		t.Fatal(err)
	}
	c.Every(context.Background(), time.Minute) // returns at once
	if s := c.Check(context.Background()); s != (State{Skipped: "dry run"}) {
		t.Errorf("Check = %+v, want only the reason", s)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("%d series (%v), want none", n, err)
	}
	e := l.entries(t, "sipgate account not checked")
	if len(e) != 1 || e[0]["reason"] != "dry run" {
		t.Errorf("logged %v, want the reason once", e)
	}
}

// TestCollectorIsConsistent: a scrape while checks run never fails.
func TestCollectorIsConsistent(t *testing.T) {
	fake, c, reg, _ := fakeChecker(t, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			fake.SetBalance(int64(i)*1000, "EUR")
			c.Check(context.Background())
		}
	})
	for range 20 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(exposition(`alertmanager_sipgate_balance{currency="EUR"} 1.9`)), MetricBalance); err != nil {
		t.Error(err)
	}
}
