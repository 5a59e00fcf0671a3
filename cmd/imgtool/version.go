package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// stampedCommit is set by the Makefile (-ldflags -X main.stampedCommit=…),
// so version shows the commit also when the build has no VCS stamp
// (-buildvcs=false, a copied tree, go run).
var stampedCommit string

func init() {
	register(&command{
		name:  "version",
		usage: "",
		short: "Print imgtool's version, commit and Go version",
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			version, commit := "(devel)", "unknown"
			if stampedCommit != "" {
				commit = stampedCommit
			}
			if bi, ok := debug.ReadBuildInfo(); ok {
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && stampedCommit == "" {
						commit = s.Value
					}
				}
			}
			fmt.Printf("imgtool %s\ncommit %s\n%s %s/%s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
