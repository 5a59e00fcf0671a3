package transfer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/overlay"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// CopyIn copies a host path (or, with src "-", the tar stream stdin) into
// the container's read-write layer at dest, as docker cp does: into dest
// when dest is a directory of the merged view, else as dest. Parent
// directories are copied up from the layers below with their metadata,
// and ownership and modes are kept.
func CopyIn(st store.Store, c *store.Container, src, dest string, stdin io.Reader, rep progress.Reporter) error {
	dirs, err := st.Containers().LayerDirs(c)
	if err != nil {
		return err
	}
	rw := dirs[len(dirs)-1] // the read-write layer, checked with the rest
	wantDir := strings.HasSuffix(dest, "/")
	dest = overlay.Clean(dest)
	_, dfi, destExists := overlay.Lookup(dirs, dest)
	destIsDir := destExists && dfi.IsDir()
	if wantDir && !destIsDir {
		return fmt.Errorf("no such directory: /%s", dest)
	}
	var target string // where src lands, relative to the container root
	switch {
	case src == "-":
		if !destIsDir {
			return fmt.Errorf("destination %q must be a directory when copying a tar stream", "/"+dest)
		}
		target = dest
	case destIsDir:
		target = path.Join(dest, filepath.Base(filepath.Clean(src)))
	default:
		parent := path.Dir(dest)
		if _, pfi, ok := overlay.Lookup(dirs, parent); !ok || !pfi.IsDir() {
			return fmt.Errorf("no such directory: %s", "/"+parent)
		}
		target = dest
	}
	if err := copyUp(dirs, rw, path.Dir(target)); err != nil {
		return err
	}
	if destIsDir && src == "-" {
		if err := copyUp(dirs, rw, target); err != nil {
			return err
		}
	}
	pr, pw := io.Pipe()
	go func() {
		var err error
		if src == "-" {
			err = renameTar(stdin, pw, func(n string) string { return path.Join(target, n) })
		} else {
			err = tarHostPath(pw, src, target)
		}
		pw.CloseWithError(err)
	}()
	opts := tarball.DefaultApplyOptions()
	in := progress.ReadCloser(pr, progress.Start(rep, "into "+shortName(c.Name), 0))
	_, err = tarball.Apply(in, rw, nil, opts)
	pr.CloseWithError(err)
	in.Finish(err)
	return err
}

func shortName(n string) string { return strings.TrimPrefix(n, "/") }

// copyUp makes sure dir and its parents exist in the read-write layer,
// each created with the metadata of its topmost copy below.
func copyUp(dirs []string, rw, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		rel := filepath.Join(parts[:i+1]...)
		if fi, err := os.Lstat(filepath.Join(rw, rel)); err == nil && fi.IsDir() {
			continue
		}
		ok, err := overlay.CopyUpDir(dirs, rw, rel)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no such directory: /%s", rel)
		}
	}
	return nil
}

// tarHostPath writes src (a file, symlink or directory tree) as a tar whose
// top entry is named target.
func tarHostPath(w io.Writer, src, target string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		tw := tar.NewWriter(w)
		if err := writeHostEntry(tw, src, target, fi); err != nil {
			return err
		}
		return tw.Close()
	}
	// A directory: its own header, then its contents through the overlay
	// dir reader (a host dir has no whiteouts, so it is a plain walk).
	pr, pw := io.Pipe()
	go func() {
		rc, err := flatten.DirLayer(src).Open()
		if err == nil {
			_, err = io.Copy(pw, rc)
			rc.Close()
		}
		pw.CloseWithError(err)
	}()
	tw := tar.NewWriter(w)
	if err := writeHostEntry(tw, src, target, fi); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Append the renamed contents without the first writer's end blocks.
	return renameTarInto(pr, tw, func(n string) string { return path.Join(target, n) })
}

func writeHostEntry(tw *tar.Writer, src, name string, fi os.FileInfo) error {
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		var err error
		if link, err = os.Readlink(src); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", ""
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	return nil
}

// renameTar copies a tar stream, renaming every entry (and hardlink target).
func renameTar(r io.Reader, w io.Writer, rename func(string) string) error {
	tw := tar.NewWriter(w)
	if err := renameTarInto(r, tw, rename); err != nil {
		return err
	}
	return tw.Close()
}

func renameTarInto(r io.Reader, tw *tar.Writer, rename func(string) string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		isDir := strings.HasSuffix(hdr.Name, "/")
		hdr.Name = rename(overlay.Clean(hdr.Name))
		if isDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rename(overlay.Clean(hdr.Linkname))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// CopyOut copies src from the container's merged view to a host path, or
// as a tar stream to stdout when dest is "-", as docker cp does.
func CopyOut(st store.Store, c *store.Container, src, dest string, stdout io.Writer, rep progress.Reporter) error {
	dirs, err := st.Containers().LayerDirs(c)
	if err != nil {
		return err
	}
	src = overlay.Clean(src)
	if _, _, ok := overlay.Lookup(dirs, src); !ok {
		//lint:ignore ST1005 docker cp's own words
		return fmt.Errorf("Could not find the file /%s in container %s", src, strings.TrimPrefix(c.Name, "/"))
	}
	newBase := path.Base("/" + src)
	into := dest
	if dest != "-" {
		if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
			into = dest
		} else {
			into, newBase = filepath.Dir(dest), filepath.Base(dest)
			if fi, err := os.Stat(into); err != nil || !fi.IsDir() {
				return fmt.Errorf("no such directory: %s", into)
			}
		}
	}
	layers := flatten.DirLayers(dirs)
	merged, mw := io.Pipe()
	// Only src's subtree is merged and written, so a hard link's names are
	// resolved within it: copying a second name copies the content.
	go func() { mw.CloseWithError(flatten.Flatten(mw, layers, flatten.Options{Subtree: src})) }()
	defer merged.Close()
	pipe, ow := io.Pipe()
	go func() { ow.CloseWithError(subtree(merged, ow, src, newBase)) }()
	out := progress.ReadCloser(pipe, progress.Start(rep, "from "+shortName(c.Name), 0))
	if dest == "-" {
		_, err := io.Copy(stdout, out)
		out.Finish(err)
		return err
	}
	_, err = tarball.Apply(out, into, nil, tarball.ApplyOptions{Chown: os.Geteuid() == 0})
	pipe.CloseWithError(err)
	out.Finish(err)
	return err
}

// subtree keeps the entries at or under src, renamed under newBase.
func subtree(r io.Reader, w io.Writer, src, newBase string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	under := func(n string) (string, bool) {
		n = strings.TrimSuffix(n, "/")
		if src == "" || src == "." {
			return path.Join(newBase, n), true
		}
		if n == src {
			return newBase, true
		}
		if rest, ok := strings.CutPrefix(n, src+"/"); ok {
			return path.Join(newBase, rest), true
		}
		return "", false
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name, ok := under(hdr.Name)
		if !ok {
			continue
		}
		if hdr.Typeflag == tar.TypeLink {
			target, inside := under(hdr.Linkname)
			if !inside {
				continue // cannot happen: Flatten resolved links within src
			}
			hdr.Linkname = target
		}
		if hdr.Typeflag == tar.TypeDir {
			name += "/"
		}
		hdr.Name = name
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
