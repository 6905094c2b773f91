package main

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields 3 to 17 of a real /proc/<pid>/stat: utime 1234, stime 566.
	rest := " S 1 123 123 0 -1 4194560 2000 0 0 0 1234 566 0 0 20 0 9 0 100 0"
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"plain name", "4242 (alertmanager-si)" + rest, 18 * time.Second, false},
		{"name with spaces and parentheses", "4242 (a) b (c))" + rest, 18 * time.Second, false},
		{"no name", "4242 alertmanager" + rest, 0, true},
		{"cut short", "4242 (x) S 1 2 3", 0, true},
		{"not a number", "4242 (x) S 1 123 123 0 -1 4194560 2000 0 0 0 12a4 566 0 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.stat)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStat = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    memory
		wantErr bool
	}{
		{"both", "Name:\tx\nVmPeak:\t  900000 kB\nVmHWM:\t    40960 kB\nVmRSS:\t    20480 kB\nThreads:\t9\n", memory{rss: 20 << 20, peak: 40 << 20}, false},
		{"with anonymous", "VmHWM:\t    40960 kB\nVmRSS:\t    20480 kB\nRssAnon:\t    6144 kB\nRssFile:\t   14336 kB\n", memory{rss: 20 << 20, peak: 40 << 20, anon: 6 << 20}, false},
		{"anonymous not kB", "VmHWM:\t40960 kB\nVmRSS:\t1 kB\nRssAnon:\t6 MB\n", memory{}, true},
		{"kernel thread", "Name:\tkthreadd\nThreads:\t1\n", memory{}, true},
		{"not kB", "VmHWM:\t40960 MB\nVmRSS:\t1 kB\n", memory{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus(strings.NewReader(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatus = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestReadOwnProcess: the readers work on a live process, this one.
func TestReadOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	// Burn some CPU time so that there is some to read.
	for x, began := 0, time.Now(); time.Since(began) < 50*time.Millisecond; x++ {
	}
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.rss <= 0 || m.peak < m.rss || m.anon <= 0 || m.anon > m.rss {
		t.Errorf("memory = %+v: want a resident set, a peak at least as large and an anonymous part of it", m)
	}
	// The peak of the anonymous memory: the watch's last sample, at stop,
	// sees 64 MiB more than there was.
	stop := watchAnon(os.Getpid(), time.Hour)
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = 1
	}
	if peak := stop(); peak < m.anon+60<<20 {
		t.Errorf("peak anonymous memory %d MiB, want at least %d MiB", peak>>20, (m.anon+60<<20)>>20)
	}
	runtime.KeepAlive(held)
	cpu, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("CPU time = %v, want some", cpu)
	}
}
