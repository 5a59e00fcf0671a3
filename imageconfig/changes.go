package imageconfig

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// validChanges are the instructions `--change` accepts: Docker 20.10's
// validCommitCommands plus STOPSIGNAL (accepted from Docker 25 on).
var validChanges = map[string]bool{
	"cmd": true, "entrypoint": true, "healthcheck": true, "env": true,
	"expose": true, "label": true, "onbuild": true, "user": true,
	"volume": true, "workdir": true, "stopsignal": true,
}

var defaultShell = []string{"/bin/sh", "-c"}

// ApplyChanges applies Docker `--change` instructions (Dockerfile lines as
// accepted by `docker import -c` / `docker commit -c`) to cfg, with the
// classic builder's semantics. cfg is left untouched on error.
//
// An instruction that is not allowed gives exactly Docker's
// "<cmd> is not a valid change command" (cmd in lower case); any other
// problem gives `invalid change "<line>": <reason>`, where reason is
// Docker's message.
func ApplyChanges(cfg *ContainerConfig, changes []string) error {
	if cfg == nil {
		return errors.New("imageconfig: nil config")
	}
	if len(changes) == 0 {
		return nil
	}
	lines, esc, err := parseLines(strings.Join(changes, "\n"))
	if err != nil {
		return fmt.Errorf("invalid change %q: %w", strings.Join(changes, "\n"), err)
	}
	// Docker's order: parse every line, then check every keyword, then
	// check every instruction's arguments, then apply them in order.
	nodes := make([]*node, 0, len(lines))
	for _, line := range lines {
		n, err := parseNode(line, esc)
		if err != nil {
			return fmt.Errorf("invalid change %q: %w", line, err)
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if !validChanges[n.cmd] {
			return fmt.Errorf("%s is not a valid change command", n.cmd)
		}
	}
	insts := make([]*instruction, 0, len(nodes))
	for _, n := range nodes {
		in, err := parseInstruction(n)
		if err != nil {
			return fmt.Errorf("invalid change %q: %w", n.original, err)
		}
		insts = append(insts, in)
	}
	st := &state{cfg: cfg.Clone(), esc: esc}
	for _, in := range insts {
		if err := st.dispatch(in); err != nil {
			return fmt.Errorf("invalid change %q: %w", in.n.original, err)
		}
	}
	*cfg = *st.cfg
	return nil
}

// instruction is a node whose arguments have been checked.
type instruction struct {
	n       *node
	cmdLine []string // CMD/ENTRYPOINT (nil: empty ENTRYPOINT)
	shell   bool     // CMD/ENTRYPOINT in shell form
	health  *HealthConfig
	onbuild string
}

var onbuildPrefix = regexp.MustCompile(`(?i)^\s*ONBUILD\s*`)

// parseFlags checks builder flags (--name=value) against the allowed names.
func parseFlags(flags []string, allowed ...string) (map[string]string, error) {
	vals := map[string]string{}
	for _, f := range flags {
		if !strings.HasPrefix(f, "--") {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return nil, fmt.Errorf("Arg should start with -- : %s", f)
		}
		if f == "--" {
			return vals, nil
		}
		name, value, hasValue := strings.Cut(f[2:], "=")
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return nil, fmt.Errorf("Unknown flag: %s", name)
		}
		if _, dup := vals[name]; dup {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return nil, fmt.Errorf("Duplicate flag specified: %s", name)
		}
		if !hasValue {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return nil, fmt.Errorf("Missing a value on flag: %s", name)
		}
		vals[name] = value
	}
	return vals, nil
}

func parseInstruction(n *node) (*instruction, error) {
	in := &instruction{n: n}
	up := strings.ToUpper(n.cmd)
	if n.cmd == "healthcheck" {
		return in, parseHealthcheck(in)
	}
	if _, err := parseFlags(n.flags); err != nil {
		return nil, err
	}
	switch n.cmd {
	case "env", "label":
		if len(n.args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", up)
		}
		for i := 0; i < len(n.args); i += 2 {
			if n.args[i] == "" {
				return nil, fmt.Errorf("%s names can not be blank", up)
			}
		}
	case "cmd", "entrypoint":
		in.cmdLine = n.args
		if !n.json && len(n.args) > 0 {
			in.cmdLine = []string{strings.Join(n.args, " ")}
		}
		if in.cmdLine == nil {
			in.cmdLine = []string{}
		}
		if n.cmd == "entrypoint" && len(in.cmdLine) == 0 {
			in.cmdLine = nil
		}
		in.shell = !n.json
	case "expose":
		if len(n.args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", up)
		}
		sort.Strings(n.args)
	case "user", "workdir", "stopsignal":
		if len(n.args) != 1 {
			return nil, fmt.Errorf("%s requires exactly one argument", up)
		}
	case "volume":
		if len(n.args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", up)
		}
		for i, v := range n.args {
			n.args[i] = strings.TrimSpace(v)
			if n.args[i] == "" {
				return nil, errors.New("VOLUME specified can not be an empty string")
			}
		}
	case "onbuild":
		if len(n.args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", up)
		}
		switch trigger := strings.ToUpper(strings.TrimSpace(n.args[0])); trigger {
		case "ONBUILD":
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return nil, errors.New("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "MAINTAINER", "FROM":
			return nil, fmt.Errorf("%s isn't allowed as an ONBUILD trigger", trigger)
		}
		in.onbuild = onbuildPrefix.ReplaceAllString(n.original, "")
	}
	return in, nil
}

func parseHealthcheck(in *instruction) error {
	n := in.n
	if len(n.args) == 0 {
		return errors.New("HEALTHCHECK requires at least one argument")
	}
	typ := strings.ToUpper(n.args[0])
	args := n.args[1:]
	if typ == "NONE" {
		if len(args) != 0 {
			return errors.New("HEALTHCHECK NONE takes no arguments")
		}
		in.health = &HealthConfig{Test: []string{typ}}
		return nil
	}
	flags, err := parseFlags(n.flags, "interval", "timeout", "start-period", "retries")
	if err != nil {
		return err
	}
	h := &HealthConfig{}
	switch typ {
	case "CMD":
		cmd := args
		if !n.json && len(args) > 0 {
			cmd = []string{strings.Join(args, " ")}
		}
		if len(cmd) == 0 {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return errors.New("Missing command after HEALTHCHECK CMD")
		}
		if !n.json {
			typ = "CMD-SHELL"
		}
		h.Test = append([]string{typ}, cmd...)
	default:
		//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
		return fmt.Errorf("Unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{{"interval", &h.Interval}, {"timeout", &h.Timeout}, {"start-period", &h.StartPeriod}} {
		s := flags[f.name]
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		if d < time.Millisecond {
			//lint:ignore ST1005 Docker's own error text (dockerfile instructions parser), kept verbatim
			return fmt.Errorf("Interval %q cannot be less than %s", f.name, time.Millisecond)
		}
		*f.dst = d
	}
	if s := flags["retries"]; s != "" {
		r, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return err
		}
		if r < 1 {
			return fmt.Errorf("--retries must be at least 1 (not %d)", r)
		}
		h.Retries = int(r)
	}
	in.health = h
	return nil
}

// state is the builder state while applying one change list.
type state struct {
	cfg    *ContainerConfig
	esc    rune
	cmdSet bool // a non-empty CMD was applied in this list
}

func (s *state) word(w string) (string, error) { return expandWord(w, s.cfg.Env, s.esc) }

func (s *state) dispatch(in *instruction) error {
	n, c := in.n, s.cfg
	switch n.cmd {
	case "env", "label":
		return s.envOrLabel(n.cmd, n.args)
	case "cmd":
		c.Cmd = s.resolveCmdLine(in)
		c.ArgsEscaped = false
		if len(in.cmdLine) != 0 {
			s.cmdSet = true
		}
	case "entrypoint":
		c.Entrypoint = s.resolveCmdLine(in)
		c.ArgsEscaped = false
		if !s.cmdSet {
			c.Cmd = nil
		}
	case "expose":
		return s.expose(n.args)
	case "user":
		u, err := s.word(n.args[0])
		c.User = u
		return err
	case "workdir":
		return s.workdir(n.args[0])
	case "volume":
		return s.volume(n.args)
	case "onbuild":
		c.OnBuild = append(c.OnBuild, in.onbuild)
	case "healthcheck":
		c.Healthcheck = in.health
	case "stopsignal":
		sig, err := s.word(n.args[0])
		if err == nil {
			err = checkSignal(sig)
		}
		if err != nil {
			return err
		}
		c.StopSignal = sig
	}
	return nil
}

// words expands every argument against the env set before the
// instruction, as the builder does for the whole instruction at once.
func (s *state) words(args []string) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		v, err := s.word(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// envOrLabel applies ENV or LABEL key/value pairs.
func (s *state) envOrLabel(cmd string, args []string) error {
	kv, err := s.words(args)
	if err != nil {
		return err
	}
	c := s.cfg
	for i := 0; i < len(kv); i += 2 {
		if cmd == "label" {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[kv[i]] = kv[i+1]
			continue
		}
		setEnv(c, kv[i], kv[i]+"="+kv[i+1])
	}
	return nil
}

// expose adds EXPOSE's ports (ranges and protocols as docker parses them).
func (s *state) expose(args []string) error {
	c := s.cfg
	var ports []string
	for _, p := range args {
		ws, err := expandWords(p, c.Env, s.esc)
		if err != nil {
			return err
		}
		ports = append(ports, ws...)
	}
	var exposed []string
	for _, p := range ports {
		ps, err := parsePortSpec(p)
		if err != nil {
			return err
		}
		exposed = append(exposed, ps...)
	}
	if c.ExposedPorts == nil {
		c.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range exposed {
		c.ExposedPorts[p] = struct{}{}
	}
	return nil
}

// workdir sets WORKDIR, relative to the previous one.
func (s *state) workdir(arg string) error {
	w, err := s.word(arg)
	if err != nil {
		return err
	}
	if w == "" {
		return errors.New("cannot normalize nothing")
	}
	if !filepath.IsAbs(w) {
		w = filepath.Join("/", s.cfg.WorkingDir, w)
	}
	s.cfg.WorkingDir = w
	return nil
}

// volume adds VOLUME's paths.
func (s *state) volume(args []string) error {
	vols, err := s.words(args)
	if err != nil {
		return err
	}
	if s.cfg.Volumes == nil {
		s.cfg.Volumes = map[string]struct{}{}
	}
	for _, v := range vols {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		s.cfg.Volumes[v] = struct{}{}
	}
	return nil
}

func (s *state) resolveCmdLine(in *instruction) []string {
	if in.cmdLine == nil {
		return nil
	}
	if !in.shell {
		return cloneStrings(in.cmdLine)
	}
	sh := s.cfg.Shell
	if len(sh) == 0 {
		sh = defaultShell
	}
	return append(cloneStrings(sh), in.cmdLine...)
}

// setEnv replaces the first entry with key in place, or appends.
func setEnv(c *ContainerConfig, key, entry string) {
	for i, e := range c.Env {
		k, _, _ := strings.Cut(e, "=")
		if k == key {
			c.Env[i] = entry
			return
		}
	}
	c.Env = append(c.Env, entry)
}

// parsePortSpec returns the exposed ports ("80/tcp") of an EXPOSE argument
// ([ip:[hostPort]:]containerPort[-end][/proto]), with Docker's errors.
func parsePortSpec(raw string) ([]string, error) {
	parts := strings.Split(raw, ":")
	var rawIP, hostPort string
	switch n := len(parts); n {
	case 1:
	case 2:
		hostPort = parts[0]
	case 3:
		rawIP, hostPort = parts[0], parts[1]
	default:
		rawIP, hostPort = strings.Join(parts[:n-2], ":"), parts[n-2]
	}
	containerPort := parts[len(parts)-1]
	proto := "tcp"
	if p, pr, ok := strings.Cut(containerPort, "/"); ok {
		containerPort = p
		if pr != "" {
			proto = pr
		}
		if i := strings.IndexByte(pr, '/'); i >= 0 {
			proto = pr[:i]
		}
	}
	ip, _, err := net.SplitHostPort(rawIP + ":")
	if err != nil {
		//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
		return nil, fmt.Errorf("Invalid ip address %v: %w", rawIP, err)
	}
	if ip != "" && net.ParseIP(ip) == nil {
		//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
		return nil, fmt.Errorf("Invalid ip address: %s", ip)
	}
	if containerPort == "" {
		//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
		return nil, fmt.Errorf("No port specified: %s<empty>", raw)
	}
	start, end, err := portRange(containerPort)
	if err != nil {
		//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
		return nil, fmt.Errorf("Invalid containerPort: %s", containerPort)
	}
	if hostPort != "" {
		hs, he, err := portRange(hostPort)
		if err != nil {
			//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
			return nil, fmt.Errorf("Invalid hostPort: %s", hostPort)
		}
		if end-start != he-hs && end != start {
			//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
			return nil, fmt.Errorf("Invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	lp := strings.ToLower(proto)
	if lp != "tcp" && lp != "udp" && lp != "sctp" {
		//lint:ignore ST1005 Docker's own error text (go-connections/nat), kept verbatim
		return nil, fmt.Errorf("Invalid proto: %s", proto)
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, strconv.FormatUint(p, 10)+"/"+lp)
	}
	return out, nil
}

func portRange(s string) (uint64, uint64, error) {
	if s == "" {
		return 0, 0, errors.New("empty port")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	if strings.Contains(hi, "-") {
		return 0, 0, errors.New("bad range")
	}
	end, err := strconv.ParseUint(hi, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("bad range")
	}
	return start, end, nil
}

// checkSignal accepts a signal number (non-zero) or a Linux signal name,
// with or without the SIG prefix (as Docker's signal.ParseSignal).
func checkSignal(raw string) error {
	if n, err := strconv.Atoi(raw); err == nil {
		if n == 0 {
			//lint:ignore ST1005 Docker's own error text (signal parsing), kept verbatim
			return fmt.Errorf("Invalid signal: %s", raw)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(raw), "SIG")
	if _, ok := signalNames[name]; !ok {
		//lint:ignore ST1005 Docker's own error text (signal parsing), kept verbatim
		return fmt.Errorf("Invalid signal: %s", raw)
	}
	return nil
}

var signalNames = func() map[string]syscall.Signal {
	m := map[string]syscall.Signal{
		"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "BUS": syscall.SIGBUS,
		"CHLD": syscall.SIGCHLD, "CLD": syscall.SIGCLD, "CONT": syscall.SIGCONT,
		"FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP, "ILL": syscall.SIGILL,
		"INT": syscall.SIGINT, "IO": syscall.SIGIO, "IOT": syscall.SIGIOT,
		"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "POLL": syscall.SIGPOLL,
		"PROF": syscall.SIGPROF, "PWR": syscall.SIGPWR, "QUIT": syscall.SIGQUIT,
		"SEGV": syscall.SIGSEGV, "STKFLT": syscall.SIGSTKFLT, "STOP": syscall.SIGSTOP,
		"SYS": syscall.SIGSYS, "TERM": syscall.SIGTERM, "TRAP": syscall.SIGTRAP,
		"TSTP": syscall.SIGTSTP, "TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU,
		"URG": syscall.SIGURG, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
		"VTALRM": syscall.SIGVTALRM, "WINCH": syscall.SIGWINCH, "XCPU": syscall.SIGXCPU,
		"XFSZ": syscall.SIGXFSZ, "RTMIN": 34, "RTMAX": 64,
	}
	for i := 1; i <= 15; i++ {
		m["RTMIN+"+strconv.Itoa(i)] = syscall.Signal(34 + i)
		m["RTMAX-"+strconv.Itoa(i)] = syscall.Signal(64 - i)
	}
	return m
}()
