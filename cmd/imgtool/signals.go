package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interrupted is the cancellation cause of a command stopped by SIGINT
// or SIGTERM. The first signal cancels the command's context: every layer
// read and archive write then fails, and the command unwinds through its
// usual rollback (the store transaction is aborted, temp files and
// write-sets removed). A second signal exits at once; what that leaves is
// removed by the next command that writes the store.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string { return "interrupted by " + sigName(e.sig) }

// code is the shell's exit status for a signal: 128 + its number.
func (e interrupted) code() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// withSignals returns a context cancelled with interrupted{sig} on the
// first SIGINT or SIGTERM.
func withSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		cancel(interrupted{s})
		if s2, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "imgtool: %s again: exiting now; the next command that writes the store removes what is left\n", sigName(s2))
			os.Exit(interrupted{s2}.code())
		}
	}()
	return ctx, func() { signal.Stop(sigs); close(sigs); cancel(nil) }
}

// interruptedError reports a command that stopped because of a signal,
// with the exit code the shell expects (130 for SIGINT, 143 for SIGTERM).
func interruptedError(ctx context.Context, err error) (string, int, bool) {
	var in interrupted
	if !errors.As(context.Cause(ctx), &in) {
		return "", 0, false
	}
	return fmt.Sprintf("%s: stopped and rolled back: nothing was written, temporary files and partial layers removed", in), in.code(), true
}
