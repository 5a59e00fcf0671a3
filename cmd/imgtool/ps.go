package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

const defaultPSFormat = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// psHeader are docker ps' column names.
var psHeader = map[string]string{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
	"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
	"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
}

// psRow is one container of `ps`; its methods are docker's fields.
type psRow struct {
	c      *transfer.Container
	image  string
	labels map[string]string
	state  transfer.ContainerState
	trunc  bool
}

// platformField is docker's Platform column: null when the daemon does
// not report one (Docker 20.10 does not).
type platformField struct{ OS, Architecture string }

func (r *psRow) MarshalJSON() ([]byte, error) { return methodsJSON(r) }
func (r *psRow) ID() string                   { return shortID(r.c.ID, !r.trunc) }
func (r *psRow) Names() string                { return strings.TrimPrefix(r.c.Name, "/") }
func (r *psRow) Image() string {
	if r.trunc && strings.HasPrefix(r.image, "sha256:") {
		return shortID(r.image, false)
	}
	return r.image
}
func (r *psRow) Command() string {
	cmd := r.c.Path
	if len(r.c.Args) > 0 {
		args := make([]string, len(r.c.Args))
		for i, a := range r.c.Args {
			args[i] = a
			if strings.Contains(a, " ") {
				args[i] = "'" + a + "'"
			}
		}
		cmd += " " + strings.Join(args, " ")
	}
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}
func (r *psRow) CreatedAt() string  { return time.Unix(r.c.Created.Unix(), 0).String() }
func (r *psRow) RunningFor() string { return sinceUnix(r.c.Created.Unix()) }
func (r *psRow) Ports() string      { return "" }
func (r *psRow) State() string      { return containerState(r.state) }
func (r *psRow) Status() string     { return containerStatus(r.state) }
func (r *psRow) Platform() *platformField {
	return nil
}
func (r *psRow) Size() string         { return "0B" }
func (r *psRow) Mounts() string       { return "" }
func (r *psRow) LocalVolumes() string { return "0" }
func (r *psRow) Networks() string     { return strings.Join(r.state.Networks, ",") }
func (r *psRow) Label(name string) string {
	return r.labels[name]
}
func (r *psRow) Labels() string {
	var kv []string
	for k, v := range r.labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// ellipsis is docker's: at most n characters, the last one "…".
func ellipsis(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// containerState is the daemon's State of a container.
func containerState(s transfer.ContainerState) string {
	switch {
	case s.Running && s.Paused:
		return "paused"
	case s.Running && s.Restarting:
		return "restarting"
	case s.Running:
		return "running"
	case s.Removing:
		return "removing"
	case s.Dead:
		return "dead"
	case s.StartedAt.IsZero() || s.StartedAt.Year() <= 1:
		return "created"
	}
	return "exited"
}

// containerStatus is the daemon's Status text: "Up 5 minutes",
// "Exited (0) 2 hours ago", "Created".
func containerStatus(s transfer.ContainerState) string {
	ago := func(t time.Time) string { return humanDuration(time.Now().UTC().Sub(t)) }
	switch containerState(s) {
	case "paused":
		return "Up " + ago(s.StartedAt) + " (Paused)"
	case "restarting":
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, ago(s.FinishedAt))
	case "running":
		return "Up " + ago(s.StartedAt)
	case "removing":
		return "Removal In Progress"
	case "dead":
		return "Dead"
	case "created":
		return "Created"
	}
	if s.FinishedAt.IsZero() || s.FinishedAt.Year() <= 1 {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, ago(s.FinishedAt))
}

func init() {
	var all, quiet, noTrunc, latest bool
	var last int
	var format string
	var filters []string
	register(&command{
		name:  "ps",
		usage: "[OPTIONS]",
		short: "List containers",
		long: `Columns as docker ps prints them: CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES.
Without -a only running containers are listed (imgtool runs none; Docker's may be).

--format takes docker's forms: a Go template per container, "table TEMPLATE" or json (one
object per line with docker's keys). Fields: ` + fieldNames(psHeader) + ` (and .Label "KEY").

Filters (-f/--filter, repeatable): status=created|running|exited|…, name=SUBSTRING,
ancestor=IMAGE (or one of its descendants), label=KEY or label=KEY=VALUE, id=PREFIX.

Examples:
  imgtool ps -a
  imgtool ps -a --filter status=exited --format '{{.Names}}'
  imgtool --root /var/lib/docker ps -a --format json`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
			fs.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
			fs.BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
			fs.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
			fs.StringArrayVarP(&filters, "filter", "f", nil, "filter output based on conditions provided")
			fs.IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
			fs.BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
		},
		maxArgs: 0,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			cs, err := transfer.ListContainers(st)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			cs, err = filterContainers(st, cs, filters, all || last > 0)
			if err != nil {
				return err
			}
			if last > 0 && len(cs) > last {
				cs = cs[:last]
			}
			if quiet {
				format = "{{.ID}}"
			}
			f, err := newRowFormat(format, defaultPSFormat, psHeader)
			if err != nil {
				return err
			}
			rows := make([]any, len(cs))
			for i, c := range cs {
				rows[i] = toPSRow(st, c, !noTrunc)
			}
			return f.printRows(rows, &psRow{c: &transfer.Container{}})
		},
	})
}

func toPSRow(st transfer.Store, c *transfer.Container, trunc bool) *psRow {
	var cfg struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
	}
	_ = json.Unmarshal(c.Config, &cfg)
	// the name the container was created from while it still names the
	// same image, else the image ID, as the daemon reports it
	image := c.Image.String()
	if cfg.Image == image {
		// imgtool create records the ID; show the name it has now
		if tags := transfer.ImageTags(st, c.Image); len(tags) > 0 {
			image = tags[0]
		}
	} else if cfg.Image != "" {
		if info, err := transfer.LookupImage(st, cfg.Image); err == nil && info.ID == c.Image {
			image = cfg.Image
		}
	}
	return &psRow{c: c, image: image, labels: cfg.Labels, state: transfer.ContainerStateOf(st, c), trunc: trunc}
}
