package dockertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// StoreListing describes every entry under root, one line each, sorted by
// path: path, mode, uid:gid, and then per type the size and sha256 of a
// regular file's content, a symlink's target, or a device's major:minor, plus
// overlay-relevant xattrs (trusted.overlay.opaque). Modification times are
// left out (a failed operation may legitimately touch a directory's mtime by
// creating and removing a temp entry); everything else must be equal for a
// store to count as unchanged. A missing root gives "(missing)".
func StoreListing(root string) string {
	if _, err := os.Lstat(root); os.IsNotExist(err) {
		return "(missing)\n"
	}
	var lines []string
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s ERROR %v", rel, err))
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s ERROR %v", rel, err))
			return nil
		}
		line := rel + " " + fi.Mode().String()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			line += fmt.Sprintf(" %d:%d", st.Uid, st.Gid)
			if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
				line += fmt.Sprintf(" dev=%d:%d", major(st.Rdev), minor(st.Rdev))
			}
		}
		switch {
		case fi.Mode().IsRegular():
			line += fmt.Sprintf(" size=%d sha256=%s", fi.Size(), fileSHA256(p))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		if fi.IsDir() {
			if v, ok := getxattr(p, "trusted.overlay.opaque"); ok {
				line += " opaque=" + v
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		lines = append(lines, "WALK ERROR "+err.Error())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// ListingDiff returns the lines only in a ("- ") or only in b ("+ "), or ""
// when the listings are equal.
func ListingDiff(a, b string) string {
	as := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		as[l] = true
	}
	bs := map[string]bool{}
	for _, l := range strings.Split(b, "\n") {
		bs[l] = true
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !bs[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !as[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func fileSHA256(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "ERROR(" + err.Error() + ")"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "ERROR(" + err.Error() + ")"
	}
	return hex.EncodeToString(h.Sum(nil))
}

func getxattr(p, name string) (string, bool) {
	buf := make([]byte, 256)
	n, err := syscall.Getxattr(p, name, buf)
	if err != nil || n < 0 {
		return "", false
	}
	return string(buf[:n]), true
}

func major(dev uint64) uint64 { return ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000) }
func minor(dev uint64) uint64 { return (dev & 0xff) | ((dev >> 12) & 0xfff00) }
