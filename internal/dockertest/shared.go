package dockertest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var shared struct {
	mu  sync.Mutex
	d   *Daemon
	err error // a failed start is not retried
}

// Shared returns the daemon shared by all tests of this test binary, starting
// it on first use. Call Cleanup (or use Main) from TestMain to stop it.
//
// Tests using Shared must leave it running; a test that needs to stop a
// daemon should use its own (Start). If a test stopped it anyway, Shared
// restarts it on the same root.
func Shared(t testing.TB) *Daemon {
	t.Helper()
	Require(t, "root", "dockerd", "docker")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.err != nil {
		t.Fatalf("dockertest: shared daemon failed to start earlier: %v", shared.err)
	}
	if shared.d == nil {
		shared.d, shared.err = StartDaemon()
		if shared.err != nil {
			t.Fatalf("dockertest: %v", shared.err)
		}
		return shared.d
	}
	if !shared.d.Running() {
		if err := shared.d.Restart(); err != nil {
			t.Fatalf("dockertest: restarting shared daemon: %v", err)
		}
	}
	return shared.d
}

// Cleanup stops the shared daemon (if it was started) and removes its
// directory. Safe to call more than once.
func Cleanup() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.d == nil {
		return nil
	}
	err := shared.d.Close()
	shared.d = nil
	cleanupImgtool()
	return err
}

// Main runs the tests and then Cleanup; use it as
//
//	func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if err := Cleanup(); err != nil {
		fmt.Fprintf(os.Stderr, "dockertest: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	cleanupImgtool()
	return code
}
