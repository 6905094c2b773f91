// Package metrics defines what the service exposes on /metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/breaker"
)

const namespace = "alertmanager_sipgate"

// OtherReceiver is the value of a receiver label for an Alertmanager
// receiver that no route of the config names, so that nothing a client
// sends becomes a label value.
const OtherReceiver = "other"

// Metrics are the service's own metrics. Labels hold route and contact
// names, results and status codes; never a phone number or message text.
type Metrics struct {
	WebhooksReceived *prometheus.CounterVec
	AlertsReceived   *prometheus.CounterVec
	// AlertsTruncated counts alerts left out of notifications, by
	// Alertmanager's max_alerts or webhook.max_alerts.
	AlertsTruncated prometheus.Counter
	// AlertsUnrouted counts alerts that no route matched and no
	// default_route took, by receiver (a receiver a route names, else
	// OtherReceiver): reported, paged only to unmatched.to.
	AlertsUnrouted *prometheus.CounterVec
	// PinnedRouteIgnored counts notifications posted to a route's URL
	// that were routed by matchers instead, by reason (unknown_route,
	// receiver_mismatch).
	PinnedRouteIgnored *prometheus.CounterVec
	// OnCallFallback counts notifications routed to a schedule while
	// nobody was on call, so that its fallback was paged, by schedule.
	OnCallFallback *prometheus.CounterVec

	// LedgerCommits times the ledger's commits, syncs included: a write
	// waits for the commit under way, then for its own, so a slow disk
	// shows here before it shows in the webhooks' answers.
	LedgerCommits prometheus.Histogram
	// LedgerWrites counts the writes those commits held: per commit, how
	// well concurrent notifications share a commit.
	LedgerWrites prometheus.Counter

	SMSSent         *prometheus.CounterVec
	SMSFailed       *prometheus.CounterVec
	SipgateDuration *prometheus.HistogramVec
	Retries         *prometheus.CounterVec
	TemplateErrors  *prometheus.CounterVec
	// TemplateFallbacks counts SMS sent with the minimal fallback text
	// because the templates failed or ran out of time.
	TemplateFallbacks *prometheus.CounterVec
	// Unchanged counts SMS not sent because they would have told their
	// recipient nothing new: a retry or an HA peer's copy of a
	// notification, or one that changed only alerts of others.
	Unchanged      *prometheus.CounterVec
	Segments       *prometheus.CounterVec
	Truncated      *prometheus.CounterVec
	Transliterated *prometheus.CounterVec
	// TransliterationSkipped counts SMS texts of encoding: gsm7 routes
	// sent untransliterated (UCS-2), because transliteration would have
	// turned too many characters, or one of an alertname, into '?'.
	TransliterationSkipped *prometheus.CounterVec
	AlertsSuppressed       *prometheus.CounterVec
	Digests                *prometheus.CounterVec
	// SMSDeferred counts SMS that quiet hours deferred, by route and how
	// (defer: hold or send_at).
	SMSDeferred *prometheus.CounterVec
	// HeldSent counts the SMS sent when quiet hours ended about what they
	// held, by result, as Digests does.
	HeldSent *prometheus.CounterVec
	// HeldCancelled counts held firing alerts that resolved before their
	// quiet hours ended, and so were never sent.
	HeldCancelled prometheus.Counter
	// UnknownOutcomes counts the sends whose outcome was unknown (sipgate
	// may have taken the SMS) by how they were settled.
	UnknownOutcomes *prometheus.CounterVec
	// ReloadSuccessful is 0 after a config reload failed, 1 after one
	// succeeded (and at start).
	ReloadSuccessful     prometheus.Gauge
	ReloadSuccessSeconds prometheus.Gauge
}

// NewRegistry returns a registry with the Go runtime, process and build
// information collectors, for New and the HTTP handler of /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(namespace),
	)
	return reg
}

// RegisterBreaker exposes the state of the circuit breaker in front of
// sipgate, read from stats at each scrape.
func RegisterBreaker(reg prometheus.Registerer, stats func() breaker.Stats) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "sipgate_circuit_open",
			Help:      "1 while sipgate is known to be in trouble and sends wait for the next probe instead of calling it, else 0.",
		}, func() float64 {
			if stats().State == breaker.Closed {
				return 0
			}
			return 1
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "sipgate_requests_refused_total",
			Help:      "Sends not made because the circuit to sipgate was open.",
		}, func() float64 { return float64(stats().FastFailed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "sipgate_circuit_opened_total",
			Help:      "Times the circuit to sipgate opened: after repeated failures or a Retry-After.",
		}, func() float64 { return float64(stats().Opened) }),
	)
}

// RegisterLedgerEntries exposes how many entries the delivery ledger
// holds, read from entries at each scrape.
func RegisterLedgerEntries(reg prometheus.Registerer, entries func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "ledger_entries",
		Help:      "Entries in the delivery ledger, expired ones not yet purged included.",
	}, func() float64 { return float64(entries()) }))
}

// RegisterDigestsOwed exposes the digests the ledger owes, read from owed
// once at each scrape: how many people are owed one, and since when the
// longest owed one is (0 when none is), so that an alert can tell a digest
// that is late from a storm that just began.
func RegisterDigestsOwed(reg prometheus.Registerer, owed func() (people int, oldest time.Time)) {
	reg.MustRegister(digestsOwed{owed: owed,
		people: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "digests_owed"),
			"People owed a digest SMS about alerts a flood limit held back.", nil, nil),
		since: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "digests_owed_since_timestamp_seconds"),
			"Since when the longest owed digest is owed, 0 when none is.", nil, nil),
	})
}

// digestsOwed is the collector of RegisterDigestsOwed: one read of the
// ledger gives both gauges, so they agree.
type digestsOwed struct {
	owed          func() (int, time.Time)
	people, since *prometheus.Desc
}

func (c digestsOwed) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.people
	ch <- c.since
}

func (c digestsOwed) Collect(ch chan<- prometheus.Metric) {
	people, oldest := c.owed()
	since := 0.0
	if !oldest.IsZero() {
		since = float64(oldest.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(c.people, prometheus.GaugeValue, float64(people))
	ch <- prometheus.MustNewConstMetric(c.since, prometheus.GaugeValue, since)
}

// RegisterDeferredHeld exposes how many SMS quiet hours hold, read from
// held at each scrape.
func RegisterDeferredHeld(reg prometheus.Registerer, held func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "deferred_held",
		Help:      "SMS that quiet hours hold until they end, one per recipient and end.",
	}, func() float64 { return float64(held()) }))
}

// RegisterWebhooksInFlight exposes how close the webhook is to its bounds
// of webhook.max_in_flight and webhook.max_alerts_in_flight, read from
// notifications and alerts at each scrape: a 503 of "too many ... in
// flight" is no surprise once these are seen near them.
func RegisterWebhooksInFlight(reg prometheus.Registerer, notifications, alerts func() int) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "webhooks_in_flight",
			Help:      "Webhook notifications being handled now, read or paged (bounded by webhook.max_in_flight).",
		}, func() float64 { return float64(notifications()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "webhook_alerts_in_flight",
			Help:      "Alerts kept of the webhook notifications being handled now, in units of the smallest alert: one per alert, more for one of many or long labels, so it can exceed the alerts (bounded by webhook.max_alerts_in_flight).",
		}, func() float64 { return float64(alerts()) }),
	)
}

// New creates the metrics and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	f := factory{reg}
	return &Metrics{
		WebhooksReceived: f.counterVec("webhooks_received_total", "Webhook requests received, by Alertmanager receiver and the HTTP status code answered.",
			"receiver", "code"),
		AlertsReceived: f.counterVec("alerts_received_total", "Alerts received in valid webhooks, by status (firing, resolved).",
			"status"),
		AlertsTruncated: f.counter("alerts_truncated_total", "Alerts left out of notifications by Alertmanager's max_alerts or webhook.max_alerts: counted in the SMS, not routed."),
		AlertsUnrouted: f.counterVec("alerts_unrouted_total", "Alerts of notifications that no route matched and no default_route took, by Alertmanager receiver (a receiver: of a route, else other): logged, and paged only to unmatched.to. Counted each time Alertmanager sends them.",
			"receiver"),
		PinnedRouteIgnored: f.counterVec("pinned_route_ignored_total", "Notifications posted to /api/v1/alerts/{route} that were routed by matchers instead, by reason (unknown_route: no route of that name; receiver_mismatch: the route is for another receiver).",
			"reason"),
		OnCallFallback: f.counterVec("oncall_fallback_total", "Notifications routed to a schedule while nobody was on call, so that its fallback was paged (or nobody, without one), by schedule.",
			"schedule"),
		SMSSent: f.counterVec("sms_total", "SMS handled, by route and result (accepted, deduplicated, suppressed, failed_permanent, failed_retryable; unknown: sipgate may have taken it, settled when the notification comes again; given_up: an unknown outcome neither found in the history nor sent again).",
			"route", "result"),
		SMSFailed: f.counterVec("sms_failed_total", "SMS that failed (the failed_* results of sms_total), by route and reason (auth, balance, rate_limited, client, server, transport, timeout, canceled, ledger, other).",
			"route", "reason"),
		SipgateDuration: f.histogramVec("sipgate_request_duration_seconds", "Duration of sipgate API requests, by HTTP status code (\"error\" when no response came).",
			[]float64{.05, .1, .25, .5, 1, 2.5, 5, 10}, "code"),
		Retries: f.counterVec("sipgate_retries_total", "Retries of sipgate requests, by reason (the HTTP status code, or \"error\" for a transport failure).",
			"reason"),
		TemplateErrors: f.counterVec("template_errors_total", "SMS texts that failed to render, by route.",
			"route"),
		TemplateFallbacks: f.counterVec("template_fallbacks_total", "SMS sent with the minimal fallback text, by route and reason (error: the templates failed; timeout: rendering ran out of time).",
			"route", "reason"),
		Unchanged: f.counterVec("sms_unchanged_total", "SMS not sent because they would have told their recipient nothing new (a retry or an HA peer's copy of a notification, or one that changed only alerts of others), by route.",
			"route"),
		Segments: f.counterVec("sms_segments_total", "SMS segments accepted by sipgate, the unit sipgate bills, by route and encoding (gsm7, ucs2).",
			"route", "encoding"),
		Truncated: f.counterVec("sms_truncated_total", "SMS texts shortened to fit their segment budget, by route.",
			"route"),
		Transliterated: f.counterVec("sms_transliterated_total", "SMS texts whose characters outside GSM-7 were replaced (encoding: gsm7), by route.",
			"route"),
		TransliterationSkipped: f.counterVec("sms_transliteration_skipped_total", "SMS texts of encoding: gsm7 routes sent with their own characters (UCS-2) because transliteration would have turned more than 3 characters, or one of an alertname, into '?', by route.",
			"route"),
		AlertsSuppressed: f.counterVec("alerts_suppressed_total", "Alerts in SMS that a flood limit held back, owed in a digest, by route.",
			"route"),
		Digests: f.counterVec("digests_total", "Digest SMS about suppressed alerts, by result (accepted, failed_retryable: tried again, failed_permanent: dropped, unknown: sipgate may have taken it, counted again when a later check settles it: accepted when found in sipgate's history, given_up when neither found nor sent again (counted as sent), and a resend as any send).",
			"result"),
		SMSDeferred: f.counterVec("sms_deferred_total", "SMS that a route's quiet hours deferred, by route and defer (hold: kept here until they end; send_at: handed to sipgate with sendAt at their end).",
			"route", "defer"),
		HeldSent: f.counterVec("deferred_sent_total", "SMS sent when quiet hours ended about the alerts they held, by result (accepted, failed_retryable: tried again, failed_permanent: dropped, unknown: sipgate may have taken it, counted again when a later check settles it: accepted when found in sipgate's history, given_up when neither found nor sent again (counted as sent), and a resend as any send).",
			"result"),
		HeldCancelled: f.counter("deferred_cancelled_total", "Held firing alerts whose resolved notification came before their quiet hours ended: never sent."),
		UnknownOutcomes: f.counterVec("sms_unknown_outcome_total", "Sends of unknown outcome (no answer after the request went out, or a crash during the send), by how they were settled: found_in_history (counted as delivered), resent (not found in sipgate's history, or the history unreadable: sent again), given_up (not found and no resend allowed: counted as delivered, may not have arrived).",
			"result"),
		LedgerCommits: f.histogram("ledger_commit_duration_seconds", "How long each commit of the delivery ledger held its one writer: running its writes, writing the pages and syncing them. The minutely purge's commits count too.",
			[]float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}),
		LedgerWrites:         f.counter("ledger_writes_total", "Writes of SMS, limits and marks committed to the delivery ledger (two or more per SMS sent); divided by the commits, how many writes share one."),
		ReloadSuccessful:     f.gauge("config_last_reload_successful", "Whether the last configuration reload succeeded."),
		ReloadSuccessSeconds: f.gauge("config_last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload."),
	}
}

// LedgerCommitted records a commit of the ledger: it is what
// ledger.Options.Committed is told.
func (m *Metrics) LedgerCommitted(writes int, took time.Duration) {
	m.LedgerCommits.Observe(took.Seconds())
	m.LedgerWrites.Add(float64(writes))
}

// factory makes metrics in the namespace and registers each with reg as it
// makes it, so a metric of Metrics cannot be made and then forgotten in the
// registration. Labels come last, so each metric reads name, help, labels.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}
