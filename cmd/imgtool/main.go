// Command imgtool is a daemonless, Docker-compatible image archive toolkit.
// This package only parses flags and prints; the work lives in store,
// archive, tarball and flatten.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/transfer"
)

// command is one subcommand: its flags, its help and its action.
type command struct {
	name     string
	usage    string // after "imgtool NAME "
	short    string
	long     string // examples and details, shown by --help
	setFlags func(fs *pflag.FlagSet)
	run      func(g *globals, fs *pflag.FlagSet, args []string) error
	minArgs  int
	maxArgs  int // -1: unlimited
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// globals are the flags before the command name.
type globals struct {
	root     string
	progress string
	st       transfer.Store
	ctx      context.Context       // cancelled by SIGINT/SIGTERM (signals.go)
	opts     transfer.StoreOptions // --max-layer-size, --no-sync
}

// reporter is the progress display a command uses; quiet silences it.
func (g *globals) reporter(verb string, quiet bool) (progress.Reporter, error) {
	if quiet {
		return progress.New(progress.None, os.Stderr, verb), nil
	}
	m, err := progress.ParseMode(g.progress)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return progress.New(m, os.Stderr, verb), nil
}

func (g *globals) store() (transfer.Store, error) {
	if g.st == nil {
		st, err := transfer.OpenStoreWith(g.root, g.opts)
		if err != nil {
			return nil, err
		}
		g.st = st
	}
	return g.st, nil
}

// storeWritable reports whether imgtool may write the store (no dockerd
// uses it).
func (g *globals) storeWritable() bool {
	st, err := g.store()
	if err != nil {
		return false
	}
	unlock, err := st.Writer()
	if err != nil {
		return false
	}
	unlock()
	return true
}

// withStore runs fn on the opened store; fn takes the locks it needs.
func (g *globals) withStore(fn func(transfer.Store) error) error {
	st, err := g.store()
	if err != nil {
		return err
	}
	return fn(st)
}

// storeHint says what to do when the store itself cannot be read or
// written: the store is --root (env IMGTOOL_ROOT), and its default
// depends on the user.
func storeHint(g *globals, err error) string {
	if !errors.Is(err, fs.ErrPermission) || g.root == "" || !strings.Contains(err.Error(), g.root) {
		return ""
	}
	return fmt.Sprintf(" (the store is %s: use --root DIR or IMGTOOL_ROOT for a store you may use; the default is /var/lib/imgtool as root, $XDG_DATA_HOME/imgtool otherwise)", g.root)
}

// usageError makes the exit code 2 (docker's convention for bad usage).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	// A soft memory limit that follows the live heap (memlimit.go);
	// GOMEMLIMIT wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		limitMemory()
	}
	os.Exit(profiled(func() int { return run(os.Args[1:]) }))
}

// profiled writes a CPU profile to $IMGTOOL_CPUPROFILE when it is set, so
// benchmarks can look inside a command (go tool pprof imgtool FILE).
func profiled(fn func() int) int {
	path := os.Getenv("IMGTOOL_CPUPROFILE")
	if path == "" {
		return fn()
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "imgtool: IMGTOOL_CPUPROFILE: %v\n", err)
		return fn()
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "imgtool: IMGTOOL_CPUPROFILE: %v\n", err)
		return fn()
	}
	defer pprof.StopCPUProfile()
	return fn()
}

func run(argv []string) int {
	g := &globals{}
	fs := pflag.NewFlagSet("imgtool", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.StringVar(&g.root, "root", transfer.DefaultRoot(), "data root of the image store (a Docker overlay2 data root, a containerd root or a Docker 29 containerd-store data root work too; env IMGTOOL_ROOT)")
	fs.StringVar(&g.progress, "progress", "", "progress on stderr of the commands that move image data: auto (bars on a terminal, plain lines otherwise), plain or none (env IMGTOOL_PROGRESS)")
	maxLayer := fs.String("max-layer-size", envOr("IMGTOOL_MAX_LAYER_SIZE", "64g"), "most bytes one layer may expand to when unpacked, e.g. 64g; 0: only the free space of the store's filesystem, which is always checked (env IMGTOOL_MAX_LAYER_SIZE)")
	fs.StringVar(&g.opts.Namespace, "namespace", transfer.DefaultNamespace(), "containerd namespace of a containerd image store: moby (Docker), default (ctr, nerdctl), k8s.io (env IMGTOOL_NAMESPACE)")
	fs.BoolVar(&g.opts.NoSync, "no-sync", os.Getenv("IMGTOOL_NO_SYNC") == "1", "no syncfs and no fsync (throwaway CI runners): the same atomic renames, but a power loss may then lose the last command's layers and metadata (env IMGTOOL_NO_SYNC=1)")
	help := fs.BoolP("help", "h", false, "show help")
	version := fs.BoolP("version", "v", false, "print version information")
	fs.Usage = func() {}
	err := fs.Parse(argv)
	if err == nil {
		g.opts.MaxLayerSize, err = transfer.ParseSize(*maxLayer)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "imgtool: %v\nSee 'imgtool --help'.\n", err)
		return 2
	}
	if _, err := progress.ParseMode(g.progress); err != nil {
		// every command, also those that show no progress: a typo in a CI
		// script's --progress or IMGTOOL_PROGRESS must not pass unnoticed
		fmt.Fprintf(os.Stderr, "imgtool: %v\nSee 'imgtool --help'.\n", err)
		return 2
	}
	args := fs.Args()
	switch {
	case *version:
		args = []string{"version"}
	case *help || len(args) == 0:
		printMainHelp(fs)
		if len(args) == 0 && !*help {
			return 2
		}
		return 0
	}
	if args[0] == "help" {
		if len(args) == 1 {
			printMainHelp(fs)
			return 0
		}
		args = []string{args[1], "--help"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "imgtool: '%s' is not an imgtool command.\nSee 'imgtool --help'.\n", args[0])
		return 2
	}
	return runCommand(g, c, args[1:])
}

func runCommand(g *globals, c *command, args []string) int {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {}
	help := fs.BoolP("help", "h", false, "show help for "+c.name)
	if c.setFlags != nil {
		c.setFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "imgtool %s: %v\nSee 'imgtool %s --help'.\n", c.name, err, c.name)
		return 2
	}
	if *help {
		printCommandHelp(c, fs)
		return 0
	}
	n := fs.NArg()
	if n < c.minArgs || c.maxArgs >= 0 && n > c.maxArgs {
		fmt.Fprintf(os.Stderr, "imgtool %s: wrong number of arguments\nUsage: imgtool %s %s\nSee 'imgtool %s --help'.\n", c.name, c.name, c.usage, c.name)
		return 2
	}
	ctx, stop := withSignals()
	defer stop()
	g.ctx = ctx
	if err := c.run(g, fs, fs.Args()); err != nil {
		if msg, code, ok := interruptedError(ctx, err); ok {
			fmt.Fprintf(os.Stderr, "imgtool %s: %s\n", c.name, msg)
			return code
		}
		var ue usageError
		fmt.Fprintf(os.Stderr, "imgtool %s: %s%s\n", c.name, oneLine(err.Error()), storeHint(g, err))
		if errors.As(err, &ue) || errors.Is(err, transfer.ErrForeignRoot) {
			return 2
		}
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// oneLine keeps error output to one line, whatever a library returned.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func printMainHelp(fs *pflag.FlagSet) {
	var b strings.Builder
	b.WriteString("Usage: imgtool [--root DIR] [--namespace NS] [--progress MODE] COMMAND [ARGS]\n\n")
	b.WriteString("A daemonless, Docker-compatible image archive toolkit. The store is a Docker overlay2\n")
	b.WriteString("data root: `--root /var/lib/docker` works on a real Docker (read-only while its daemon runs);\n")
	b.WriteString("so does Docker 29's containerd image store (`--root /var/lib/containerd`, `--namespace`).\n\n")
	b.WriteString("Commands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].short)
	}
	b.WriteString("\nGlobal options:\n")
	b.WriteString(fs.FlagUsages())
	b.WriteString("\nRun 'imgtool help COMMAND' or 'imgtool COMMAND --help' for a command's options and examples.\n")
	b.WriteString("Exit codes: 0 success, 1 failure, 2 bad usage.\n")
	fmt.Fprint(os.Stdout, b.String())
}

func printCommandHelp(c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(os.Stdout, "Usage: imgtool %s %s\n\n%s\n", c.name, c.usage, c.short)
	if c.long != "" {
		fmt.Fprintf(os.Stdout, "\n%s\n", strings.TrimSpace(c.long))
	}
	fmt.Fprintf(os.Stdout, "\nOptions:\n%s", fs.FlagUsages())
}
