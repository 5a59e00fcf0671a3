package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// managementCommands are docker's "docker image …" and "docker container
// …" forms: each subcommand runs the imgtool command it names.
var managementCommands = map[string]map[string]string{
	"image": {
		"ls": "images", "list": "images", "inspect": "inspect", "rm": "rmi", "remove": "rmi",
		"prune": "prune", "save": "save", "load": "load", "tag": "tag", "history": "history",
		"import": "import", "push": "push", "pull": "pull",
	},
	"container": {
		"ls": "ps", "list": "ps", "ps": "ps", "create": "create", "rm": "rm", "remove": "rm",
		"export": "export", "commit": "commit", "cp": "cp",
	},
}

func init() {
	for name, subs := range managementCommands {
		register(managementCommand(name, subs))
	}
}

// subcommandNames are a management command's subcommands, sorted.
func subcommandNames(subs map[string]string) []string {
	names := make([]string, 0, len(subs))
	for s := range subs {
		names = append(names, s)
	}
	sort.Strings(names)
	return names
}

func managementCommand(name string, subs map[string]string) *command {
	var b strings.Builder
	for _, s := range subcommandNames(subs) {
		fmt.Fprintf(&b, "  %-8s = imgtool %s\n", s, subs[s])
	}
	return &command{
		name:  name,
		usage: "COMMAND [ARGS]",
		short: "Manage " + name + "s (docker " + name + " COMMAND forms)",
		long: "Docker's management-command forms; each runs the imgtool command it names, with its\nflags:\n" +
			b.String() + "\nExample:\n  imgtool " + name + " ls",
		setFlags: func(fs *pflag.FlagSet) { fs.SetInterspersed(false) },
		minArgs:  1, maxArgs: -1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			target, ok := subs[args[0]]
			if !ok {
				return usageError{fmt.Sprintf("'%s' is not an imgtool %s command (%s)", args[0], name, strings.Join(subcommandNames(subs), ", "))}
			}
			if code := runCommand(g, commands[target], args[1:]); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}
