package main

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/transfer"
)

func init() {
	register(&command{
		name:  "verify",
		usage: "SRC",
		short: "Re-hash every blob of an archive, OCI layout or store image",
		long: `SRC is a location as for convert (docker-archive:PATH, oci-archive:PATH, oci:DIR,
store:REF or a bare store reference; :REF picks one image). Every manifest, index,
config and layer blob is re-hashed against its digest and size, every layer's
uncompressed stream against the config's diff_id; chain IDs are printed. For a
store image, layerdb is checked too (each chain dir's diff and parent files).
One status line per blob; the exit code is 1 on any mismatch, which is named.

Examples:
  imgtool verify docker-archive:app.tar
  imgtool verify oci:layout
  imgtool --root /var/lib/docker verify debian:12`,
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			if err := checkStdio(args[0], "store:x"); err != nil {
				return err
			}
			env := &transfer.Env{Store: g.store, Stdin: os.Stdin, Stdout: os.Stdout}
			_, err := transfer.Verify(context.Background(), args[0], env, os.Stdout)
			return err
		},
	})
}
