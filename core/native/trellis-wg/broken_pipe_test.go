package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestOutlivesTheReaderOfItsOutput: the agent reads trellis-wg's stdout and stderr, and a device
// outlives an agent that crashed. A helper process (this test binary again) sets trellis-wg's
// signal handling, loses the reader of its stdout and stderr, and keeps writing log lines, as
// wireguard-go's logger does: it must go on (and exit 0 when told), not die of SIGPIPE.
func TestOutlivesTheReaderOfItsOutput(t *testing.T) {
	if os.Getenv("TRELLIS_WG_BROKEN_PIPE_HELPER") == "1" {
		ignoreBrokenPipes()
		time.Sleep(200 * time.Millisecond) // the parent closes the read end meanwhile
		for i := 0; i < 5; i++ {
			fmt.Fprintf(os.Stdout, "log line %d\n", i)
			fmt.Fprintf(os.Stderr, "error line %d\n", i)
		}
		os.Exit(0)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutlivesTheReaderOfItsOutput$")
	cmd.Env = append(os.Environ(), "TRELLIS_WG_BROKEN_PIPE_HELPER=1")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r.Close() // the agent is gone
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("trellis-wg died of %v once the reader of its output was gone", ws.Signal())
		}
		t.Fatalf("the helper failed: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}
