package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:  "completion",
		usage: "bash|zsh|fish",
		short: "Print a shell completion script",
		long: `Examples:
  source <(imgtool completion bash)
  imgtool completion zsh > "${fpath[1]}/_imgtool"
  imgtool completion fish > ~/.config/fish/completions/imgtool.fish`,
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			script, ok := map[string]func() string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[args[0]]
			if !ok {
				return usageError{fmt.Sprintf("unknown shell %q (bash, zsh, fish)", args[0])}
			}
			fmt.Print(script())
			return nil
		},
	})
}

// commandFlags lists each command's long flags, from the same flag sets
// the commands parse, so completion cannot drift from the code.
func commandFlags() map[string][]string {
	out := map[string][]string{}
	for name, c := range commands {
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		fs.Bool("help", false, "")
		if c.setFlags != nil {
			c.setFlags(fs)
		}
		fs.VisitAll(func(f *pflag.Flag) { out[name] = append(out[name], "--"+f.Name) })
		sort.Strings(out[name])
	}
	return out
}

func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString("# bash completion for imgtool\n_imgtool() {\n  local cur cmd i\n  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n  cmd=\"\"\n")
	b.WriteString("  for ((i=1; i<COMP_CWORD; i++)); do case \"${COMP_WORDS[i]}\" in --root|--progress|--namespace) ((i++));; -*) ;; *) cmd=\"${COMP_WORDS[i]}\"; break;; esac; done\n")
	fmt.Fprintf(&b, "  if [[ -z $cmd ]]; then COMPREPLY=($(compgen -W \"%s --root --namespace --progress --help --version\" -- \"$cur\")); return; fi\n", strings.Join(commandNames(), " "))
	b.WriteString("  case $cmd in\n")
	flags := commandFlags()
	for _, n := range commandNames() {
		if subs, ok := managementCommands[n]; ok {
			b.WriteString(bashManagement(n, subs, flags))
			continue
		}
		fmt.Fprintf(&b, "    %s) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi;;\n", n, strings.Join(flags[n], " "))
	}
	b.WriteString("  esac\n}\ncomplete -F _imgtool imgtool\n")
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString("#compdef imgtool\n_imgtool() {\n  local -a cmds\n  cmds=(\n")
	for _, n := range commandNames() {
		fmt.Fprintf(&b, "    '%s:%s'\n", n, strings.ReplaceAll(commands[n].short, "'", "'\\''"))
	}
	b.WriteString("  )\n  if (( CURRENT == 2 )); then _describe command cmds; return; fi\n  case $words[2] in\n")
	flags := commandFlags()
	for _, n := range commandNames() {
		if subs, ok := managementCommands[n]; ok {
			fmt.Fprintf(&b, "    %s) if (( CURRENT == 3 )); then compadd %s; else _files; fi;;\n", n, strings.Join(subcommandNames(subs), " "))
			continue
		}
		fmt.Fprintf(&b, "    %s) _arguments '*:file:_files' %s;;\n", n, quoteAll(flags[n]))
	}
	b.WriteString("  esac\n}\ncompdef _imgtool imgtool\n")
	return b.String()
}

func fishCompletion() string {
	var b strings.Builder
	b.WriteString("# fish completion for imgtool\n")
	for _, n := range commandNames() {
		fmt.Fprintf(&b, "complete -c imgtool -n __fish_use_subcommand -a %s -d '%s'\n", n, strings.ReplaceAll(commands[n].short, "'", "\\'"))
	}
	flags := commandFlags()
	for _, n := range commandNames() {
		for _, f := range flags[n] {
			fmt.Fprintf(&b, "complete -c imgtool -n '__fish_seen_subcommand_from %s' -l %s\n", n, strings.TrimPrefix(f, "--"))
		}
	}
	for _, n := range commandNames() {
		if subs, ok := managementCommands[n]; ok {
			fmt.Fprintf(&b, "complete -c imgtool -n '__fish_seen_subcommand_from %s' -a '%s'\n", n, strings.Join(subcommandNames(subs), " "))
		}
	}
	return b.String()
}

func quoteAll(flags []string) string {
	q := make([]string, len(flags))
	for i, f := range flags {
		q[i] = "'" + f + "'"
	}
	return strings.Join(q, " ")
}

// bashManagement completes "imgtool image SUB": the subcommands, then the
// flags of the command SUB runs.
func bashManagement(name string, subs map[string]string, flags map[string][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    %s) if ((COMP_CWORD == i+1)); then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; fi\n", name, strings.Join(subcommandNames(subs), " "))
	b.WriteString("      local f=\"\"; case \"${COMP_WORDS[i+1]}\" in\n")
	for _, s := range subcommandNames(subs) {
		fmt.Fprintf(&b, "        %s) f=\"%s\";;\n", s, strings.Join(flags[subs[s]], " "))
	}
	b.WriteString("      esac\n      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$f\" -- \"$cur\")); else COMPREPLY=($(compgen -f -- \"$cur\")); fi;;\n")
	return b.String()
}
