package flatten

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/imgtool/imgtool/overlay"
)

// Node describes one tar entry, independent of header encoding details.
type Node struct {
	Path     string            // cleaned: no leading "./" or "/", no trailing "/"
	Type     byte              // tar Typeflag ('0' for regular files, also for '\x00')
	Mode     int64             // permission bits + setuid/setgid/sticky (S_IFMT bits dropped)
	Uid, Gid int               //
	Size     int64             // header size
	SHA256   string            // hex sha256 of the content (regular files only)
	Linkname string            // symlink target or hard link path (hard links cleaned like Path)
	Devmajor int64             // char/block devices
	Devminor int64             //
	Xattrs   map[string]string // from PAX SCHILY.xattr.* records; nil if none
}

// String renders n on one line; Xattr values are quoted.
func (n Node) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %c %04o %d:%d", n.Path, n.Type, n.Mode, n.Uid, n.Gid)
	switch n.Type {
	case tar.TypeReg:
		fmt.Fprintf(&b, " size=%d sha256=%.12s", n.Size, n.SHA256)
	case tar.TypeSymlink, tar.TypeLink:
		fmt.Fprintf(&b, " -> %q", n.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		fmt.Fprintf(&b, " dev=%d,%d", n.Devmajor, n.Devminor)
	}
	keys := make([]string, 0, len(n.Xattrs))
	for k := range n.Xattrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, n.Xattrs[k])
	}
	return b.String()
}

// Describe reads the tar stream r and returns one Node per entry, sorted by
// Path (stable for duplicates). Modification, access and change times, user
// and group names, and the header format are deliberately left out, so the
// output of `docker export` (any Docker version) and of Flatten can be
// compared with DiffTrees. The root entry ("." or "./"), if any, is kept
// with Path "".
func Describe(r io.Reader) ([]Node, error) {
	tr := tar.NewReader(r)
	var out []Node
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		n := Node{
			Path: overlay.Clean(hdr.Name), Type: hdr.Typeflag, Mode: hdr.Mode & 07777,
			Uid: hdr.Uid, Gid: hdr.Gid, Size: hdr.Size, Linkname: hdr.Linkname,
			Devmajor: hdr.Devmajor, Devminor: hdr.Devminor,
		}
		if n.Type == tar.TypeLink { // (tar.Reader already maps TypeRegA to TypeReg)
			n.Linkname = overlay.Clean(hdr.Linkname)
		}
		if n.Type != tar.TypeChar && n.Type != tar.TypeBlock {
			n.Devmajor, n.Devminor = 0, 0
		}
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, xattrPrefix) {
				if n.Xattrs == nil {
					n.Xattrs = map[string]string{}
				}
				n.Xattrs[k[len(xattrPrefix):]] = v
			}
		}
		if n.Type == tar.TypeReg {
			h := sha256.New()
			if _, err := io.Copy(h, tr); err != nil {
				return nil, err
			}
			n.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		out = append(out, n)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// DiffTrees compares two Describe results and returns human-readable
// differences ("-" only in a, "+" only in b), or nil if they are equal.
func DiffTrees(a, b []Node) []string {
	var d []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Path < b[j].Path):
			d = append(d, "- "+a[i].String())
			i++
		case i == len(a) || b[j].Path < a[i].Path:
			d = append(d, "+ "+b[j].String())
			j++
		default:
			if sa, sb := a[i].String(), b[j].String(); sa != sb || a[i].SHA256 != b[j].SHA256 {
				d = append(d, "- "+sa, "+ "+sb)
			}
			i++
			j++
		}
	}
	return d
}
