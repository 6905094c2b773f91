// Package account watches the sipgate account that pages go through:
// whether sipgate accepts the credentials and how much credit is left, so
// that an operator learns of a revoked token or an empty account before a
// page fails.
package account

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/sipgate"
)

// Client reads the account; *sipgate.Client is one.
type Client interface {
	Userinfo(ctx context.Context) (sipgate.Userinfo, error)
	Balance(ctx context.Context) (sipgate.Balance, error)
}

// Options configure a Checker.
type Options struct {
	Client Client
	// LowBalance, in the currency's units (5 is 5.00 EUR), is the balance
	// below which the account counts as low: a warning is logged when the
	// balance falls below it. 0 turns it off.
	LowBalance float64
	// Timeout bounds one check, both requests together; none when 0.
	Timeout time.Duration
	Logger  *slog.Logger
	// Now is the clock of the state's times; time.Now when nil.
	Now func() time.Time
}

// State is what the last checks found, for the metrics and a status page.
type State struct {
	// Skipped says why the account is not checked (a dry run, the check
	// turned off); "" when it is. A skipped checker's other fields stay
	// zero.
	Skipped string
	// Checked is when the last check ended; zero before the first.
	Checked time.Time
	// Up is whether the last check succeeded: sipgate answered, accepted
	// the credentials and told the balance.
	Up bool
	// LastSuccess is when a check last succeeded; zero if none did.
	LastSuccess time.Time
	// Err says in words why the last check failed; "" after a success.
	// It never holds the token or password.
	Err string
	// User is the web user the credentials belong to (sipgate's sub, such
	// as w0), from the last check that read it.
	User string

	// HasBalance is whether a balance was ever read. Balance, Currency and
	// BalanceAt are the last one read: a failed check keeps them, and
	// LastSuccess tells their age.
	HasBalance bool
	Balance    float64 // in the currency's units: 12.34
	Currency   string  // ISO 4217: EUR
	BalanceAt  time.Time
	// LowBalance is the configured threshold, 0 when off; Low whether the
	// last balance read is below it.
	LowBalance float64
	Low        bool
}

// Checker checks the account now and then and keeps what it found. It is
// safe for concurrent use: State may be read while a check runs.
type Checker struct {
	o       Options
	skipped string

	mu    sync.Mutex
	state State
}

// New returns a checker of the account behind o.Client. Nothing is
// checked until Check or Run.
func New(o Options) *Checker {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Checker{o: o, state: State{LowBalance: o.LowBalance}}
}

// Skipped returns a checker that never checks, for a service that does
// not use the account (a dry run) or was told not to check it: its State
// says why, and Run logs it.
func Skipped(reason string, logger *slog.Logger) *Checker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{o: Options{Logger: logger}, skipped: reason, state: State{Skipped: reason}}
}

// State returns what the checks found so far.
func (c *Checker) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Run checks the account at once and then at every tick, until ctx ends.
// A skipped checker logs why and returns at once.
func (c *Checker) Run(ctx context.Context, ticks <-chan time.Time) {
	if c.skipped != "" {
		c.o.Logger.Info("sipgate account not checked", "reason", c.skipped)
		return
	}
	c.Check(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			c.Check(ctx)
		}
	}
}

// Every is Run with a tick every interval.
func (c *Checker) Every(ctx context.Context, interval time.Duration) {
	if c.skipped != "" || interval <= 0 {
		c.Run(ctx, nil)
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	c.Run(ctx, t.C)
}

// Check asks sipgate who the credentials belong to and then the balance,
// records the outcome, logs what changed, and returns the new state. When
// ctx ends during the check, nothing is recorded: the service is stopping,
// sipgate did not fail.
func (c *Checker) Check(ctx context.Context) State {
	if c.skipped != "" {
		return c.State()
	}
	checkCtx := ctx
	if c.o.Timeout > 0 {
		var cancel context.CancelFunc
		checkCtx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	u, err := c.o.Client.Userinfo(checkCtx)
	var b sipgate.Balance
	if err == nil {
		// Rejected credentials or a sipgate in trouble fail the balance
		// too: it is asked for only after they passed.
		b, err = c.o.Client.Balance(checkCtx)
	}
	if err != nil && ctx.Err() != nil {
		return c.State()
	}
	before, after := c.record(u, b, err)
	c.log(before, after, err)
	return after
}

// record stores the outcome of a check and returns the state before and
// after it.
func (c *Checker) record(u sipgate.Userinfo, b sipgate.Balance, err error) (before, after State) {
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	before = c.state
	s := &c.state
	s.Checked = now
	s.Up = err == nil
	if err != nil {
		s.Err = err.Error()
		return before, c.state
	}
	s.Err, s.LastSuccess, s.User = "", now, u.Sub
	s.HasBalance, s.Balance, s.Currency, s.BalanceAt = true, b.Units(), b.Currency, now
	s.Low = c.o.LowBalance > 0 && s.Balance < c.o.LowBalance
	return before, c.state
}

// log says what a check found: a failure each time, as a warning; a
// success at info when it ends failures or is the first, else at debug;
// and a warning once when the balance falls below the threshold, until it
// is back above.
func (c *Checker) log(before, after State, err error) {
	l := c.o.Logger
	if err != nil {
		attrs := []any{"err", err}
		var serr *sipgate.Error
		if errors.As(err, &serr) {
			attrs = append(attrs, "reason", serr.Reason(), "temporary", serr.Temporary())
		}
		l.Warn("sipgate account check failed", attrs...)
		return
	}
	attrs := []any{"user", after.User, "balance", units(after.Balance), "currency", after.Currency}
	if before.Up {
		l.Debug("sipgate account checked", attrs...)
	} else {
		l.Info("sipgate account checked", attrs...)
	}
	switch {
	case after.Low && !before.Low:
		l.Warn("sipgate balance below sipgate.low_balance: top up the account before SMS fail",
			"balance", units(after.Balance), "currency", after.Currency, "low_balance", units(c.o.LowBalance))
	case !after.Low && before.Low:
		l.Info("sipgate balance back above sipgate.low_balance",
			"balance", units(after.Balance), "currency", after.Currency, "low_balance", units(c.o.LowBalance))
	}
}

// units writes an amount in the currency's units as short as it is
// exact: 12.34, 0.059, 20.
func units(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
