package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/account"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
)

// newAccountChecker is the checker of the sipgate account, its metrics
// registered on reg. In a dry run, which sends nothing through the
// account, and with sipgate.account_check_interval 0, it is one that says
// why it does not check, and exposes no metrics.
//
// It has a client of its own, one connection and no metrics of requests:
// its calls are neither sends nor history searches, and must not count as
// such in alertmanager_sipgate_sipgate_request_duration_seconds.
func newAccountChecker(s config.Sipgate, reg prometheus.Registerer, logger *slog.Logger) (*account.Checker, error) {
	var c *account.Checker
	switch {
	case s.DryRun:
		c = account.Skipped("dry run: SMS are logged, not sent", logger)
	case s.AccountCheckInterval == 0:
		c = account.Skipped("sipgate.account_check_interval is 0", logger)
	default:
		c = account.New(account.Options{
			// Its own connection, and not observed: the account check's
			// requests are not the sends that sipgate_request_duration_seconds
			// times.
			Client:     newSipgateClient(s, 1, nil),
			LowBalance: s.LowBalance,
			// Two requests, each bounded by sipgate.timeout.
			Timeout: 2 * time.Duration(s.Timeout),
			Logger:  logger,
		})
	}
	if err := c.Register(reg); err != nil {
		return nil, fmt.Errorf("account metrics: %w", err)
	}
	return c, nil
}
