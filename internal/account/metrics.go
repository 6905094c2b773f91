package account

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The account metrics' names. Alerting rules are written against them.
const (
	MetricUp          = "alertmanager_sipgate_sipgate_up"
	MetricBalance     = "alertmanager_sipgate_balance"
	MetricSuccessTime = "alertmanager_sipgate_account_check_success_timestamp_seconds"
	MetricBalanceLow  = "alertmanager_sipgate_balance_low"
)

// collector exposes a checker's state at each scrape, from one snapshot,
// so that the series of one scrape always agree with each other. The
// currency label takes only the currency of the last balance read (an ISO
// 4217 code, checked by the sipgate client): one series at a time.
type collector struct {
	c                           *Checker
	up, balance, success, isLow *prometheus.Desc
}

// Register exposes the checker's state on reg:
//
//   - alertmanager_sipgate_sipgate_up: 1 when the last check succeeded
//     (sipgate answered, accepted the credentials and told the balance),
//     0 when it failed; absent before the first check ended.
//   - alertmanager_sipgate_balance{currency}: the last balance read, in
//     the currency's units; absent before one was read.
//   - alertmanager_sipgate_account_check_success_timestamp_seconds: when
//     a check last succeeded; absent before one did.
//   - alertmanager_sipgate_balance_low: 1 when the last balance read is
//     below sipgate.low_balance, else 0 (always 0 with no threshold);
//     absent before a balance was read.
//
// A skipped checker registers nothing, so that a dry run, which pages
// nobody through sipgate, neither fakes an account nor looks like a
// broken one.
func (c *Checker) Register(reg prometheus.Registerer) error {
	if c.skipped != "" {
		return nil
	}
	return reg.Register(&collector{
		c:       c,
		up:      prometheus.NewDesc(MetricUp, "1 when the last check of the sipgate account succeeded: sipgate answered, accepted the credentials and told the balance; 0 when it failed.", nil, nil),
		balance: prometheus.NewDesc(MetricBalance, "The sipgate account's balance at the last successful check, in units of the currency (12.34 is 12.34 EUR).", []string{"currency"}, nil),
		success: prometheus.NewDesc(MetricSuccessTime, "When a check of the sipgate account last succeeded, in Unix seconds.", nil, nil),
		isLow:   prometheus.NewDesc(MetricBalanceLow, "1 when the sipgate account's balance at the last successful check is below sipgate.low_balance, else 0 (always 0 without a threshold).", nil, nil),
	})
}

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.up
	ch <- m.balance
	ch <- m.success
	ch <- m.isLow
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	s := m.c.State()
	if s.Checked.IsZero() {
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, bool01(s.Up))
	if !s.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(m.success, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9)
	}
	if s.HasBalance {
		// The currency is checked by the sipgate client; a Client that
		// lets an invalid label value through loses the series, not the
		// scrape.
		if b, err := prometheus.NewConstMetric(m.balance, prometheus.GaugeValue, s.Balance, s.Currency); err == nil {
			ch <- b
		}
		ch <- prometheus.MustNewConstMetric(m.isLow, prometheus.GaugeValue, bool01(s.Low))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
