package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux exports
// them in USER_HZ, 100 per second on every architecture it runs on.
const userHZ = 100

// memory is a process's resident set from /proc/<pid>/status, in bytes.
type memory struct {
	rss  int64 // VmRSS: now
	peak int64 // VmHWM: the most since the process started
	// anon is RssAnon, the part of rss that is the process's own (heap,
	// stacks); the rest are pages of files it maps, its binary and the
	// ledger's, which the page cache holds and shares. 0 where the kernel
	// does not say (before Linux 4.5).
	anon int64
}

// readMemory reads the memory of process pid.
func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	defer f.Close()
	m, err := parseStatus(f)
	if err != nil {
		return memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	return m, nil
}

// parseStatus reads VmRSS, VmHWM and RssAnon from the text of
// /proc/<pid>/status.
func parseStatus(r io.Reader) (memory, error) {
	var m memory
	var found int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		var field *int64
		switch key {
		case "VmRSS":
			field = &m.rss
		case "VmHWM":
			field = &m.peak
		case "RssAnon":
			field = &m.anon
		}
		if !ok || field == nil {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(value), " kB")
		if !ok {
			return memory{}, fmt.Errorf("%s: %q is not in kB", key, value)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %w", key, err)
		}
		*field = n << 10
		if key != "RssAnon" {
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return memory{}, err
	}
	if found != 2 {
		return memory{}, fmt.Errorf("no VmRSS and VmHWM (a kernel thread, or not Linux)")
	}
	return m, nil
}

// watchAnon samples the anonymous memory of process pid every interval
// until stop is called, which samples it once more and returns the most it
// saw. The kernel keeps a peak of the whole resident set only (VmHWM),
// which counts the pages of the ledger the service has read: they grow
// with the ledger, not with the load, and the page cache drops them first
// when memory is short.
func watchAnon(pid int, interval time.Duration) (stop func() int64) {
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var most int64
		sample := func() {
			if m, err := readMemory(pid); err == nil {
				most = max(most, m.anon)
			}
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				sample()
				peak <- most
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-peak
	}
}

// readCPU returns the CPU time process pid has used so far, user and
// system.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	d, err := parseStat(string(b))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	return d, nil
}

// parseStat returns utime+stime from the text of /proc/<pid>/stat. The
// second field, the command name in parentheses, may hold spaces and
// parentheses of its own, so the fields are counted from the last ")".
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", s)
	}
	// After the name: state (field 3), ..., utime (14), stime (15).
	fields := strings.Fields(s[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want more than %d", len(fields), stime)
	}
	var ticks int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// loadAverage returns the 1, 5 and 15 minute load averages of the machine
// as /proc/loadavg writes them, or "" when they cannot be read: a busy
// machine shows in the figures, so the report says how busy it was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
