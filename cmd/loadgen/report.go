package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// result is the report of one run; its JSON is what --json prints.
// Figures the tool could not take (the memory of a --target without
// --pid) are 0.
type result struct {
	Target        string `json:"target"`
	ServiceBinary string `json:"service_binary,omitempty"`
	ServicePID    int    `json:"service_pid,omitempty"`
	Concurrency   int    `json:"concurrency"`
	// Rate is the notifications started per second, 0 when each worker
	// posts as soon as it was answered.
	Rate                  float64 `json:"rate"`
	AlertsPerNotification int     `json:"alerts_per_notification"`
	Recipients            int     `json:"recipients"`
	SipgateHTTP2          bool    `json:"sipgate_http2"`
	// Limits is --limits: the service checks every SMS against limits
	// that hold none back; LedgerSends the sends its ledger held in their
	// windows before it started (--ledger-sends).
	Limits      bool `json:"limits"`
	LedgerSends int  `json:"ledger_sends"`

	// Stopped says why sending ended: count, duration or interrupted.
	Stopped string  `json:"stopped"`
	Seconds float64 `json:"seconds"`
	// Sent notifications, OK those answered 200, Other the rest of the
	// answers by status code, Failed those with no answer.
	Sent       int            `json:"sent"`
	OK         int            `json:"ok"`
	Other      map[string]int `json:"other_answers"`
	Failed     int            `json:"failed"`
	FirstError string         `json:"first_error,omitempty"`
	// PerSecond is notifications answered 200 per second.
	PerSecond float64 `json:"notifications_per_second"`
	// Latencies of the notifications answered 200, in milliseconds.
	P50MS float64 `json:"latency_p50_ms"`
	P99MS float64 `json:"latency_p99_ms"`
	MaxMS float64 `json:"latency_max_ms"`

	// The warm-up before the measured run (--warmup), which the figures
	// above leave out: its notifications, those answered 200, and their
	// latencies, in milliseconds.
	WarmupSeconds float64 `json:"warmup_seconds"`
	WarmupSent    int     `json:"warmup_sent"`
	WarmupOK      int     `json:"warmup_ok"`
	WarmupP99MS   float64 `json:"warmup_latency_p99_ms"`
	WarmupMaxMS   float64 `json:"warmup_latency_max_ms"`

	// SMSCounted is what the fake sipgate accepted by the last answer;
	// SMSExpected is one per recipient of every notification answered 200,
	// the warm-up's included.
	SMSCounted  int `json:"sms_counted"`
	SMSExpected int `json:"sms_expected"`

	// The service's resident memory once ready, before the load, and its
	// peak since it started (VmHWM); the most of it that was anonymous
	// during the load (heap, stacks, the runtime's own: RssAnon, sampled
	// every 100 ms; 0 when the kernel does not say), which leaves out the
	// pages of files mapped, its binary's and its ledger's, that the page
	// cache holds; its CPU time, user and system, during the load.
	IdleRSSBytes         int64   `json:"idle_rss_bytes"`
	PeakRSSBytes         int64   `json:"peak_rss_bytes"`
	PeakAnonBytes        int64   `json:"peak_anon_bytes"`
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUPerNotificationMS float64 `json:"cpu_per_notification_ms"`

	// The service's ledger during the measured run, from its /metrics:
	// its commits (the minutely purge's included), the writes each held
	// on average, how long each held the ledger's one writer on average,
	// and the share of the run the writer was held. LedgerRead is false
	// when /metrics could not be read; then they are 0.
	LedgerRead            bool    `json:"ledger_read"`
	LedgerCommits         int     `json:"ledger_commits"`
	LedgerWritesPerCommit float64 `json:"ledger_writes_per_commit"`
	LedgerCommitMeanMS    float64 `json:"ledger_commit_mean_ms"`
	LedgerBusy            float64 `json:"ledger_busy"`

	// LoadgenCPUPerNotificationMS is the CPU time this tool and the fake
	// sipgate in it took per notification, on the same machine.
	LoadgenCPUPerNotificationMS float64 `json:"loadgen_cpu_per_notification_ms"`

	// The machine: its CPUs and load averages (1, 5, 15 minutes) before
	// the run, as the tool, the fake sipgate and the service share it.
	CPUs        int    `json:"cpus"`
	LoadAverage string `json:"load_average"`
}

// setLoad fills in what posting found.
func (r *result) setLoad(s loadStats) {
	r.Stopped = s.stopped
	r.Seconds = s.elapsed.Seconds()
	r.Sent, r.OK, r.Failed, r.FirstError = s.sent, s.ok, s.failed, s.firstError
	r.Other = map[string]int{}
	for code, n := range s.other {
		r.Other[strconv.Itoa(code)] = n
	}
	if s.elapsed > 0 {
		r.PerSecond = float64(s.ok) / s.elapsed.Seconds()
	}
	r.P50MS = ms(percentile(s.latencies, 0.50))
	r.P99MS = ms(percentile(s.latencies, 0.99))
	r.MaxMS = ms(percentile(s.latencies, 1))
}

// setWarmup fills in what the warm-up found.
func (r *result) setWarmup(s loadStats) {
	r.WarmupSeconds = s.elapsed.Seconds()
	r.WarmupSent, r.WarmupOK = s.sent, s.ok
	r.WarmupP99MS = ms(percentile(s.latencies, 0.99))
	r.WarmupMaxMS = ms(percentile(s.latencies, 1))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// problem says what made the run not clean, or "" for a clean one.
func (r *result) problem() string {
	var p []string
	if r.Stopped == stoppedInterrupted {
		p = append(p, "interrupted")
	}
	if r.WarmupOK != r.WarmupSent {
		p = append(p, fmt.Sprintf("%d of %d warm-up notifications not answered 200", r.WarmupSent-r.WarmupOK, r.WarmupSent))
	}
	if r.OK != r.Sent {
		p = append(p, fmt.Sprintf("%d of %d notifications not answered 200", r.Sent-r.OK, r.Sent))
	}
	if r.SMSCounted != r.SMSExpected {
		p = append(p, fmt.Sprintf("the fake sipgate counted %d SMS, %d expected", r.SMSCounted, r.SMSExpected))
	}
	return strings.Join(p, "; ")
}

// print writes the report as a plain-text table.
func (r *result) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("target", "%s", r.Target)
	if r.ServiceBinary != "" {
		row("service", "%s, pid %d", r.ServiceBinary, r.ServicePID)
	}
	proto := "HTTP/1.1"
	if r.SipgateHTTP2 {
		proto = "HTTP/2 offered"
	}
	pace := fmt.Sprintf("%d concurrent", r.Concurrency)
	if r.Rate > 0 {
		pace = fmt.Sprintf("%g/s by up to %d concurrent (latency from the scheduled start)", r.Rate, r.Concurrency)
	}
	row("load", "%s, %d alerts per notification, %d recipient(s), sipgate over TLS (%s)", pace, r.AlertsPerNotification, r.Recipients, proto)
	if r.Limits || r.LedgerSends > 0 {
		limits := "none"
		if r.Limits {
			limits = "every SMS checked, none held back"
		}
		row("limits", "%s; %d sends in the ledger's windows before the start", limits, r.LedgerSends)
	}
	if r.WarmupSent > 0 {
		row("warm-up", "%d notifications in %.1f s before, not counted below: %d answered 200, p99 %.1f ms, max %.1f ms", r.WarmupSent, r.WarmupSeconds, r.WarmupOK, r.WarmupP99MS, r.WarmupMaxMS)
	}
	row("stopped by", "%s after %.1f s", r.Stopped, r.Seconds)
	row("notifications", "%d sent, %d answered 200, %s, %d without an answer", r.Sent, r.OK, r.others(), r.Failed)
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	row("notifications/s", "%.0f", r.PerSecond)
	row("latency (200s)", "p50 %.1f ms, p99 %.1f ms, max %.1f ms", r.P50MS, r.P99MS, r.MaxMS)
	row("SMS at the fake", "%d of %d expected", r.SMSCounted, r.SMSExpected)
	if r.PeakRSSBytes > 0 {
		anon := "unknown (no RssAnon)"
		if r.PeakAnonBytes > 0 {
			anon = fmt.Sprintf("%.1f MiB at most", mib(r.PeakAnonBytes))
		}
		row("service RSS", "%.1f MiB idle, %.1f MiB peak; anonymous (heap, stacks, runtime; not the mapped binary and ledger) %s during the load", mib(r.IdleRSSBytes), mib(r.PeakRSSBytes), anon)
		row("service CPU", "%.2f ms per notification (%.1f s user+system)", r.CPUPerNotificationMS, r.CPUSeconds)
	} else {
		row("service RSS, CPU", "unknown: give --pid of the --target")
	}
	switch {
	case !r.LedgerRead:
		row("service ledger", "unknown: its /metrics could not be read")
	case r.LedgerCommits == 0:
		row("service ledger", "no commits during the run")
	default:
		row("service ledger", "%d commits, %.1f writes and %.2f ms each on average; its writer held %.0f%% of the time", r.LedgerCommits, r.LedgerWritesPerCommit, r.LedgerCommitMeanMS, r.LedgerBusy*100)
	}
	row("loadgen CPU", "%.2f ms per notification (this tool and the fake sipgate)", r.LoadgenCPUPerNotificationMS)
	row("machine", "%d CPUs, load average %s before the run", r.CPUs, r.LoadAverage)
	tw.Flush()
}

// others lists the answers other than 200.
func (r *result) others() string {
	if len(r.Other) == 0 {
		return "no other answers"
	}
	var s []string
	for _, code := range slices.Sorted(maps.Keys(r.Other)) {
		s = append(s, fmt.Sprintf("%d × %s", r.Other[code], code))
	}
	return "others: " + strings.Join(s, ", ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
