package core

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxSymlinkHops bounds symlink resolution inside an archive (like Linux's ELOOP limit).
const maxSymlinkHops = 40

// maxJSONSize caps every JSON file read from an archive (manifest.json,
// index.json, configs, manifests, legacy json, repositories). Real ones are
// kilobytes; 16 MiB keeps one file, parsed, well inside the reader's
// 64 MiB memory budget.
const maxJSONSize = 16 << 20

// maxMembers caps the members (files, directories, links) of an archive or
// layout: the index holds one small record per member, and an image
// archive has a few per layer. A gzip of empty headers is tiny, so without
// it a 300 KB input could make the index alone pass the memory budget.
const maxMembers = 1 << 16

// tarEntry locates one member of the indexed tar.
type tarEntry struct {
	name     string // cleaned, relative to the archive root, no trailing slash
	typ      byte
	linkname string
	offset   int64 // of the member's data in the file
	size     int64
}

// tarIndex maps the cleaned names of a tar file to their data, built with
// one sequential header scan. Later members with the same name replace
// earlier ones, as an extraction would (Docker untars before loading).
type tarIndex struct {
	ra      io.ReaderAt
	entries map[string]*tarEntry
	order   []string // first-seen order of names, for deterministic walks

	// dir mode: an OCI layout directory; entries are files under root,
	// opened on first use and kept open until close.
	root  *os.Root
	mu    sync.Mutex
	files map[string]*os.File
}

// cleanMember normalises a tar member name the way extraction into a root
// would: leading "/" and "./" dropped, ".." clamped at the root.
func cleanMember(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// scanTar indexes f (an uncompressed tar) in one pass over its headers; data
// is skipped by seeking.
func scanTar(f *os.File) (*tarIndex, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	total := st.Size()
	if total == 0 {
		return nil, errors.New("archive is empty (0 bytes)")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	ix := &tarIndex{ra: f, entries: map[string]*tarEntry{}}
	tr := tar.NewReader(f)
	n := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return nil, fmt.Errorf("not a tar archive: %v", err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated tar archive after %d entries: %v", n, err)
			}
			return nil, fmt.Errorf("reading tar archive after %d entries: %v", n, err)
		}
		n++
		if n > maxMembers {
			return nil, fmt.Errorf("archive has more than %d entries", maxMembers)
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		name := cleanMember(hdr.Name)
		if name == "" {
			continue
		}
		e := &tarEntry{name: name, typ: hdr.Typeflag, linkname: hdr.Linkname, offset: off}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeCont:
			e.typ = tar.TypeReg
			e.size = hdr.Size
			if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeCont {
				e.typ = hdr.Typeflag
				e.size = 0
			}
		case tar.TypeGNUSparse:
			e.size = 0
		}
		if off+e.size > total {
			return nil, fmt.Errorf("truncated tar archive: entry %q needs %d bytes at offset %d, file has %d", hdr.Name, e.size, off, total)
		}
		if _, ok := ix.entries[name]; !ok {
			ix.order = append(ix.order, name)
		}
		ix.entries[name] = e
	}
	if n == 0 {
		return nil, errors.New("archive holds no tar entries")
	}
	return ix, nil
}

// errEscape reports a path or symlink that would leave the archive root.
type pathError struct {
	name string
	msg  string
}

func (e *pathError) Error() string { return fmt.Sprintf("archive entry %q: %s", e.name, e.msg) }

// ErrMissing is matched (errors.Is) by every error about a blob or file
// that the archive does not hold.
var ErrMissing = errors.New("not in the archive")

// ErrNotImage marks a manifest that is not a runnable image (ArtifactOf):
// readers skip it and say so instead of failing the whole archive.
var ErrNotImage = errors.New("not a runnable image")

type missingError struct{ name, resolved string }

func (e *missingError) Error() string {
	if e.resolved != "" {
		return fmt.Sprintf("archive entry %q (resolved to %q) not found", e.name, e.resolved)
	}
	return fmt.Sprintf("archive entry %q not found", e.name)
}

func (e *missingError) Is(t error) bool { return t == ErrMissing }

func notFound(name string) error { return &missingError{name: name} }

// safeRel validates a path named by a manifest: it must be relative and stay
// inside the archive. It returns the cleaned form.
func safeRel(p string) (string, error) {
	if p == "" {
		return "", &pathError{p, "empty path"}
	}
	if path.IsAbs(p) {
		return "", &pathError{p, "absolute path not allowed"}
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &pathError{p, "path leaves the archive"}
	}
	return c, nil
}

// lookup resolves p inside the archive: intermediate and final symlinks are
// followed relative to their directory (absolute targets and ".." past the
// root are rejected, as leaving the archive), hardlinks are followed to their
// target member, at most maxSymlinkHops in total. The result is a regular file.
func (ix *tarIndex) lookup(p string) (*tarEntry, error) {
	orig := p
	c, err := safeRel(p)
	if err != nil {
		return nil, err
	}
	hops := 0
	lastLink := ""
	pending := strings.Split(c, "/")
	var resolved []string
	for len(pending) > 0 {
		comp := pending[0]
		pending = pending[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if len(resolved) == 0 {
				if lastLink != "" {
					return nil, &pathError{orig, lastLink + " leaves the archive"}
				}
				return nil, &pathError{orig, "path leaves the archive"}
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		cur := path.Join(append(append([]string{}, resolved...), comp)...)
		e := ix.entries[cur]
		if e != nil && e.typ == tar.TypeSymlink {
			hops++
			if hops > maxSymlinkHops {
				return nil, &pathError{orig, "too many levels of symbolic links"}
			}
			if e.linkname == "" {
				return nil, &pathError{orig, fmt.Sprintf("symlink %q has an empty target", cur)}
			}
			if path.IsAbs(e.linkname) {
				return nil, &pathError{orig, fmt.Sprintf("symlink %q -> %q leaves the archive", cur, e.linkname)}
			}
			// Walk the target from the link's directory; ".." past the
			// root is detected when popped.
			pending = append(strings.Split(e.linkname, "/"), pending...)
			lastLink = fmt.Sprintf("symlink %q -> %q", cur, e.linkname)
			continue
		}
		resolved = append(resolved, comp)
	}
	final := path.Join(resolved...)
	if final == "" {
		return nil, &pathError{orig, "is the archive root"}
	}
	e := ix.entries[final]
	for e != nil && e.typ == tar.TypeLink {
		hops++
		if hops > maxSymlinkHops {
			return nil, &pathError{orig, "too many levels of links"}
		}
		e = ix.entries[cleanMember(e.linkname)]
	}
	if e == nil {
		if final != c {
			return nil, &missingError{name: orig, resolved: final}
		}
		return nil, notFound(orig)
	}
	switch e.typ {
	case tar.TypeReg:
		return e, nil
	case tar.TypeDir:
		return nil, &pathError{orig, "is a directory"}
	default:
		return nil, &pathError{orig, fmt.Sprintf("is not a regular file (type %q)", e.typ)}
	}
}

// exists reports whether p resolves to a regular file.
func (ix *tarIndex) exists(p string) bool {
	_, err := ix.lookup(p)
	return err == nil
}

// section returns the data of e.
func (ix *tarIndex) section(e *tarEntry) *io.SectionReader {
	return io.NewSectionReader(ix.readerAt(e), e.offset, e.size)
}

func (ix *tarIndex) readerAt(e *tarEntry) io.ReaderAt {
	if ix.root == nil {
		return ix.ra
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if f := ix.files[e.name]; f != nil {
		return f
	}
	f, err := ix.root.Open(e.name)
	if err != nil {
		return errReaderAt{err}
	}
	ix.files[e.name] = f
	return f
}

type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

func (ix *tarIndex) close() {
	if ix.root == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, f := range ix.files {
		f.Close()
	}
	ix.files = map[string]*os.File{}
	ix.root.Close()
}

// scanDir indexes an OCI layout directory: every file, directory and
// symlink under dir, by its slash-separated relative name. Files are
// read through an os.Root, so nothing outside dir is ever opened.
func scanDir(dir string) (*tarIndex, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	ix := &tarIndex{entries: map[string]*tarEntry{}, root: root, files: map[string]*os.File{}}
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if len(ix.order) >= maxMembers {
			return fmt.Errorf("layout has more than %d entries", maxMembers)
		}
		e := &tarEntry{name: p}
		switch t := d.Type(); {
		case t.IsDir():
			e.typ = tar.TypeDir
		case t&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			e.typ, e.linkname = tar.TypeSymlink, target
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			e.typ, e.size = tar.TypeReg, fi.Size()
		default:
			return nil
		}
		ix.entries[p] = e
		ix.order = append(ix.order, p)
		return nil
	})
	if err != nil {
		root.Close()
		return nil, err
	}
	return ix, nil
}

// readJSONFile reads a small file, refusing more than maxJSONSize bytes.
func (ix *tarIndex) readSmall(p string) ([]byte, error) {
	e, err := ix.lookup(p)
	if err != nil {
		return nil, err
	}
	if e.size > maxJSONSize {
		return nil, fmt.Errorf("archive entry %q: %d bytes is too large for a JSON file (limit %d)", p, e.size, maxJSONSize)
	}
	b := make([]byte, e.size)
	if _, err := ix.readerAt(e).ReadAt(b, e.offset); err != nil && !(err == io.EOF && int64(len(b)) == e.size) {
		return nil, fmt.Errorf("archive entry %q: %v", p, err)
	}
	return b, nil
}

// ArtifactOf says what a manifest is when it is not a runnable image (an
// OCI artifact: artifactType set, or a config that is not an image
// config, such as the empty config application/vnd.oci.empty.v1+json),
// "" for an image. Such manifests are signatures, SBOMs, attestations and
// other referrers: a layout holding them must still give its images.
func ArtifactOf(raw []byte) string {
	var m struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			MediaType types.MediaType `json:"mediaType"`
		} `json:"layers"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	for _, l := range m.Layers {
		// pre-artifactType artifacts: an image config, but blobs that are
		// no layers (application/vnd.example.build-type+json, …)
		if l.MediaType != "" && !isLayerMT(l.MediaType) {
			return "artifact with blobs of type " + string(l.MediaType)
		}
	}
	switch m.Config.MediaType {
	case "", string(types.OCIConfigJSON), string(types.DockerConfigJSON):
		if m.ArtifactType == "" {
			return ""
		}
		return "artifact " + m.ArtifactType
	}
	if m.ArtifactType != "" {
		return "artifact " + m.ArtifactType
	}
	return "artifact with config " + m.Config.MediaType
}

// isLayerMT reports a media type a layer of a runnable image can have.
func isLayerMT(mt types.MediaType) bool {
	if mt.IsLayer() {
		return true
	}
	s := string(mt)
	return strings.HasPrefix(s, "application/vnd.oci.image.layer.") || strings.HasPrefix(s, "application/vnd.docker.image.rootfs.")
}
