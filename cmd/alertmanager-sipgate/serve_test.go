package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/config"
	"github.com/alertmanager-sipgate/alertmanager-sipgate/internal/ledger"
)

// TestStartAfterAnUncleanStopIsLogged: a ledger file left without the free
// list that a clean stop writes means the process before crashed or was
// killed; the start says so once, and a start after a clean stop does not.
func TestStartAfterAnUncleanStopIsLogged(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "config.yml", "sipgate: {dry_run: true}\nroutes: [{name: default, to: [\"+4915112345678\"]}]\n")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	// What a killed process leaves: a file whose commits skipped the free
	// list, closed without writing it.
	if err := os.MkdirAll(storage, 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(storage, ledger.FileName), 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("delivered"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	const warning = "the ledger was not closed cleanly at the last stop"
	start := func() string {
		t.Helper()
		var logs strings.Builder
		a, err := newApp(cfg, cfgFile, storage, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		a.close()
		return logs.String()
	}
	if logs := start(); !strings.Contains(logs, warning) || !strings.Contains(logs, ledger.FileName) {
		t.Errorf("start after an unclean stop logged %q, want a warning naming the file", logs)
	}
	if logs := start(); strings.Contains(logs, warning) {
		t.Errorf("start after a clean stop logged %q", logs)
	}
}
