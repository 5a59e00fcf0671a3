package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/transfer"
)

func init() {
	var output string
	var jsonOut bool
	register(&command{
		name:  "export",
		usage: "[-o FILE] CONTAINER|IMAGE",
		short: "Export a container's or an image's filesystem as one flat tar",
		long: `Writes the merged view as docker export does: whiteouts and opaque directories applied,
hardlinks kept as links, symlinks verbatim, devices, fifos, setuid/sticky bits and
security.capability kept; for a container the init files (.dockerenv, etc/hosts, …) and
the read-write layer are included. It reads the overlay2 directories directly, so it works
on a real Docker data root whether or not the daemon runs, without mounting.
Output differs from docker export only in entry mtimes of directories the init layer
copied up, in user/group names (imgtool writes none; docker looks them up in the
container's /etc/passwd) and in header mode bits (imgtool writes permission bits only,
as Docker >= 24 does; Docker 20.10 adds the S_IF file-type bits). Without -o the tar goes to stdout, which must not be a terminal.

Examples:
  imgtool export -o rootfs.tar my-container
  imgtool --root /var/lib/docker export web1 | tar -t
  imgtool export -o rootfs.tar debian:12        # an image's rootfs`,
		setFlags: func(fs *pflag.FlagSet) {
			fs.StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
			fs.BoolVar(&jsonOut, "json", false, "print the result (bytes, sha256) as JSON (on stderr when the tar goes to stdout)")
		},
		minArgs: 1, maxArgs: 1,
		run: func(g *globals, fs *pflag.FlagSet, args []string) error {
			start := time.Now()
			st, err := g.store()
			if err != nil {
				return err
			}
			unlock, err := st.Reader()
			if err != nil {
				return err
			}
			defer unlock()
			c, img, err := transfer.ExportTarget(st, args[0])
			if err != nil {
				return err
			}
			out, commit, abort, err := g.archiveOutput(output)
			if err != nil {
				return err
			}
			rep, err := g.reporter("exporting", jsonOut && g.progress == "" && (output == "" || output == "-"))
			if err != nil {
				abort()
				return err
			}
			w := newCountingWriter(out, jsonOut)
			var task string
			if c != nil {
				task = "container " + shortID(c.ID, false)
			} else {
				task = "image " + shortID(img.ID().String(), false)
			}
			pw := progress.Writer(w, rep.Task(task, 0))
			if c != nil {
				err = transfer.ExportContainer(pw, st, c)
			} else {
				err = transfer.ExportImage(pw, st, img)
			}
			pw.Finish(err)
			rep.Close()
			if err != nil {
				abort()
				return err
			}
			if err := commit(); err != nil {
				return err
			}
			if !jsonOut {
				return nil
			}
			r := &result{Command: "export", Output: output, Bytes: w.n, SHA256: w.sum()}
			if r.Output == "" {
				r.Output = "-"
			}
			return printResult(resultStream(output), r, start)
		},
	})
}
