package overlay

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// getxattrat(2) and the /proc/self/fd fallback read the same values: a set
// attribute (also one larger than the scratch buffer), an unset one, and
// the symlink itself rather than its target.
func TestGetxattrAtMatchesFallback(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("v", 3000)
	if err := unix.Setxattr(f, "user.small", []byte("value"), 0); err != nil {
		t.Skipf("no user xattrs on %s: %v", dir, err)
	}
	if err := unix.Setxattr(f, "user.big", []byte(big), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	cases := []struct {
		base, attr string
		want       []byte
	}{
		{"f", "user.small", []byte("value")},
		{"f", "user.big", []byte(big)},
		{"f", "user.unset", nil},
		{"link", "user.small", nil}, // not followed
	}
	read := func(fallback bool) [][]byte {
		defer noGetxattrat.Store(false)
		noGetxattrat.Store(fallback)
		var got [][]byte
		for _, c := range cases {
			v, err := lgetxattrAt(dirfd, c.base, c.attr, make([]byte, 256))
			if err != nil {
				t.Fatalf("%s %s (fallback %v): %v", c.base, c.attr, fallback, err)
			}
			got = append(got, v)
		}
		return got
	}
	direct, viaProc := read(false), read(true)
	for i, c := range cases {
		if !bytes.Equal(direct[i], c.want) || !bytes.Equal(viaProc[i], c.want) {
			t.Errorf("%s %s: getxattrat %q, /proc fallback %q, want %q", c.base, c.attr, direct[i], viaProc[i], c.want)
		}
	}
	if _, err := getxattrat(dirfd, "f", "user.small", make([]byte, 16)); err == unix.ENOSYS {
		t.Logf("this kernel has no getxattrat(2): both reads went through /proc")
	}
}
