package config

import (
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// checkAccount checks the settings of the sipgate account check, and
// warns about a low_balance that nothing reads.
func (c *Config) checkAccount(p *problems) {
	s := c.Sipgate
	if d := time.Duration(s.AccountCheckInterval); d != 0 && d < MinAccountCheckInterval {
		p.add("sipgate.account_check_interval", "%s is too often: each check makes two requests to sipgate; use at least %s, or 0 to turn the check off",
			s.AccountCheckInterval, model.Duration(MinAccountCheckInterval))
	}
	if s.LowBalance < 0 || math.IsNaN(s.LowBalance) || math.IsInf(s.LowBalance, 0) {
		// The value is no secret, but the message stays the same for
		// every wrong one.
		p.add("sipgate.low_balance", "must be 0 (off) or an amount in the currency's units, such as 5 for 5.00 EUR")
		return
	}
	switch {
	case s.LowBalance == 0:
	case s.DryRun:
		c.warn("sipgate.low_balance", "is not used in a dry run: the account is not checked")
	case s.AccountCheckInterval == 0:
		c.warn("sipgate.low_balance", "is never checked: account_check_interval is 0")
	}
}
