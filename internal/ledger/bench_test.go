package ledger

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The limits of the benchmarks: a 10m and a day per recipient, a budget of
// a day, all high enough to allow every send, so that each Take checks
// and records.
var (
	benchPerRecipient = []Window{{Max: 1_000, Per: 10 * time.Minute}, {Max: 1_000_000, Per: 24 * time.Hour}}
	benchBudget       = Window{Max: 2_000_000, Per: 24 * time.Hour}
)

const (
	benchNumbers = 1_000
	// benchSends fill the ledger of the "1M" benchmarks: spread evenly
	// over the day before the benchmark starts, so every one lies in the
	// budget's window.
	benchSends = 1_000_000
	benchDay   = 24 * time.Hour
	// benchGap is the time between two of those sends: a benchmark that
	// moves its clock on by that much per send keeps the window full, each
	// send expiring about one old one.
	benchGap = benchDay / benchSends
)

func benchNumber(i int) string {
	return fmt.Sprintf("+4915%07d", i%benchNumbers)
}

// fillSends writes n sends to benchNumbers recipients, evenly spread over
// the day before end, straight into the log in large transactions: the
// state the ledger has after a day of n sends.
func fillSends(tb testing.TB, l *Ledger, n int, end time.Time) {
	tb.Helper()
	start := end.Add(-benchDay)
	const perTx = 100_000
	for lo := 0; lo < n; lo += perTx {
		if err := l.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSendsByAge)
			for i := lo; i < min(lo+perTx, n); i++ {
				if err := b.Put(sendKey(benchNumber(i), start.Add(time.Duration(i)*(benchDay/time.Duration(n)))), nil); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
}

// commits returns how many write transactions the ledger committed so
// far: each commit of bbolt is one write of its pages and one of its meta
// page, each followed by an fdatasync.
func commits(tb testing.TB, l *Ledger) uint64 {
	tb.Helper()
	var id uint64
	if err := l.db.View(func(tx *bolt.Tx) error {
		id = uint64(tx.ID())
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return id
}

// benchLedger opens a ledger in a temporary directory holding sends
// sends in the day before end, and checks every benchmark limit once: the
// first check of a window length counts what the log holds, once, which
// is no cost per send.
func benchLedger(b *testing.B, sends int, end time.Time, now func() time.Time) *Ledger {
	b.Helper()
	l, err := Open(filepath.Join(b.TempDir(), "ledger.db"), Options{DedupWindow: 10 * time.Minute, PagedRetention: time.Hour, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	fillSends(b, l, sends, end)
	if err := l.db.Update(func(tx *bolt.Tx) error {
		_, err := allows(tx, benchNumber(0), 0, benchPerRecipient, benchBudget, end, end)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkTake takes one send per op, one goroutine, on an empty ledger
// and on one holding a million sends within the limit windows. The clock
// moves on by benchGap per op, so in the full ledger each send also
// expires about one old one, as in a steady storm. With nosync, the
// commits are not synced to disk: what is left is the CPU and the pages
// a Take costs, without the disk's noise.
func BenchmarkTake(b *testing.B) {
	for _, synced := range []bool{true, false} {
		for _, sends := range []int{0, benchSends} {
			name := fmt.Sprintf("sync/sends=%d", sends)
			if !synced {
				name = "no" + name
			}
			b.Run(name, func(b *testing.B) {
				now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
				l := benchLedger(b, sends, now, func() time.Time { return now })
				l.db.NoSync = !synced
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					now = now.Add(benchGap)
					if _, ok, err := l.Take(benchNumber(i), 0, benchPerRecipient, benchBudget, false); err != nil || !ok {
						b.Fatalf("Take = %v, %v", ok, err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkSMSWritePath is what the ledger writes for each accepted SMS
// (count the send and mark it in doubt, then record it delivered with its
// alerts paged), from 10 goroutines at once as concurrent notifications
// do. commits/op shows how many writes share a commit; each commit is two
// fdatasyncs (its pages, then its meta page). The clock moves on as in
// BenchmarkTake.
func BenchmarkSMSWritePath(b *testing.B) {
	const workers = 10
	for _, sends := range []int{0, benchSends} {
		b.Run(fmt.Sprintf("sends=%d", sends), func(b *testing.B) {
			end := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			var ticks atomic.Int64
			// Three readings of the clock per SMS: the in-doubt mark's,
			// Take's and the record's.
			l := benchLedger(b, sends, end, func() time.Time { return end.Add(time.Duration(ticks.Add(1)) * benchGap / 3) })
			jobs := make(chan int)
			errs := make(chan error, workers)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := range jobs {
						if err := acceptSMS(l, "bench-"+strconv.Itoa(i), benchNumber(i)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			before := commits(b, l)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				select {
				case jobs <- n:
				case err := <-errs:
					b.Fatal(err)
				}
				n++
			}
			close(jobs)
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			perOp := float64(commits(b, l)-before) / float64(n)
			b.ReportMetric(perOp, "commits/op")
			b.ReportMetric(2*perOp, "fdatasyncs/op")
		})
	}
}

// acceptSMS writes what delivery writes for one SMS that sipgate accepted.
func acceptSMS(l *Ledger, key, number string) error {
	now := l.now()
	_, ok, err := l.TakeDoubt(key, Doubt{Number: number, Text: "FIRING 2", Since: now, Last: now}, 0, benchPerRecipient, benchBudget, false, nil)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("send to %s refused", number)
	}
	return l.RecordPaged(key, number, []Firing{{ID: key + "/a1", Since: now}, {ID: key + "/a2", Since: now}})
}

// BenchmarkPurge purges a ledger holding 500,000 deliveries and as many
// paged marks within their retention (nothing to delete: the scan is the
// cost), while a writer records deliveries one after another, as
// notifications do. write-wait-max-ms is the longest a record took during
// the purges: what a purge holds up the notifications' writes.
func BenchmarkPurge(b *testing.B) {
	const entries = 500_000
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l, err := Open(filepath.Join(b.TempDir(), "ledger.db"), Options{DedupWindow: time.Hour, PagedRetention: 30 * benchDay, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	l.db.NoSync = true // filling it, and the writer below: the purge's wait is what is measured
	to := PagedRecipient{Number: benchNumber(0)}
	for start := 0; start < entries; start += 10_000 {
		if err := l.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < start+10_000; i++ {
				key := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
				if err := record(tx, key, encodeTime(now)); err != nil {
					return err
				}
				if err := markPaged(tx, to, []Firing{{ID: key + "|1", Since: now.Add(-time.Duration(i) * time.Second)}}, encodeTime(now)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var longest atomic.Int64
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if err := l.Record("writer-" + strconv.Itoa(i)); err != nil {
				b.Error(err)
				return
			}
			if d := int64(time.Since(start)); d > longest.Load() {
				longest.Store(d)
			}
		}
	})
	for b.Loop() {
		if n, err := l.Purge(time.Hour); err != nil || n != 0 {
			b.Fatalf("Purge = %d, %v; want nothing deleted", n, err)
		}
	}
	close(stop)
	writer.Wait()
	b.ReportMetric(float64(longest.Load())/1e6, "write-wait-max-ms")
}
