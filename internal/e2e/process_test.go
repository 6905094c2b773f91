package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleRoot is the directory of this project's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildService builds the service binary into a temporary directory.
func buildService(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "alertmanager-sipgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/alertmanager-sipgate")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build service: %v\n%s", err, out)
	}
	return bin
}

// alertmanagerBinary returns a real Alertmanager of the version in go.mod,
// built once from the module cache and kept in the user cache directory.
// ALERTMANAGER_BIN overrides it. The module lacks the built web UI, which
// `go install` needs, so the build runs in a copy with a placeholder UI.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ALERTMANAGER_BIN"); bin != "" {
		return bin
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}|{{.Version}}", "github.com/prometheus/alertmanager")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("find the alertmanager module: %v", err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("user cache dir: %v", err)
	}
	bin := filepath.Join(cache, "alertmanager-sipgate", "alertmanager-"+version, "alertmanager")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if dir == "" {
		t.Fatalf("alertmanager %s is not in the module cache: run go mod download", version)
	}
	t.Logf("building Alertmanager %s (once; cached in %s)", version, filepath.Dir(bin))
	src := filepath.Join(t.TempDir(), "alertmanager")
	if out, err := exec.Command("cp", "-r", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("copy alertmanager source: %v\n%s", err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		t.Fatalf("chmod alertmanager source: %v\n%s", err, out)
	}
	dist := filepath.Join(src, "ui", "app", "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, "index.html"), []byte("<html></html>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := bin + ".tmp"
	build := exec.Command("go", "build", "-o", tmp, "./cmd/alertmanager")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build alertmanager %s: %v\n%s", version, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a process's output for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a started binary that is stopped when the test ends.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan error
}

func start(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), output: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output)
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit error, failing after timeout.
func (p *process) stop(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not stop within %v of SIGTERM", p.name, timeout)
		return nil
	}
}

// waitReady polls url until it answers 200.
func waitReady(t *testing.T, p *process, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("%s exited before it was ready: %v", p.name, err)
		case <-ctx.Done():
			t.Fatalf("%s not ready at %s: %v", p.name, url, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// getBody fetches url and returns its body.
func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b.String())
	}
	return b.String()
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func url(addr, path string) string { return fmt.Sprintf("http://%s%s", addr, path) }
