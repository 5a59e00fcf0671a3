package tarball

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// An archive must not set overlay metadata or host policy through xattrs:
// only its whiteouts say what is hidden. security.capability and user.*
// are image content and are kept; whatever is dropped stays in tar-split,
// so the layer still reassembles byte for byte.
func TestApplyDropsOverlayAndHostXattrs(t *testing.T) {
	requireRoot(t)
	x := func(e ent, kv ...string) ent {
		e.hdr.PAXRecords = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			e.hdr.PAXRecords["SCHILY.xattr."+kv[i]] = kv[i+1]
		}
		return e
	}
	caps := string([]byte{0, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	in := buildTar(t,
		x(dir("hidden/", 0o755), "trusted.overlay.opaque", "y", "user.note", "kept"),
		x(file("redirected", "r\n", 0o644), "trusted.overlay.redirect", "/etc", "trusted.overlay.metacopy", "",
			"trusted.overlay.origin", "x", "trusted.other", "1", "security.selinux", "system_u:object_r:etc_t:s0",
			"security.ima", "x", "system.nfs4_acl", "x"),
		x(file("ping", "p\n", 0o755), "security.capability", caps),
		dir("opaque/", 0o755),
		file("opaque/.wh..wh..opq", "", 0o644),
	)
	parent, layer := sandbox(t)
	_, ts := applyBytes(t, in, layer, DefaultApplyOptions())
	get := func(name, attr string) (string, bool) {
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(layer, name), attr, buf)
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EOPNOTSUPP) {
			return "", false
		}
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", name, attr, err)
		}
		return string(buf[:n]), true
	}
	// imgtool's own opaque whiteout still becomes the overlay xattr: the
	// filesystem takes trusted.* names, so their absence below means something.
	if v, ok := get("opaque", "trusted.overlay.opaque"); !ok || v != "y" {
		t.Fatalf("opaque whiteout: trusted.overlay.opaque = %q, %v; want y", v, ok)
	}
	for _, c := range []struct{ name, attr string }{
		{"hidden", "trusted.overlay.opaque"},
		{"redirected", "trusted.overlay.redirect"},
		{"redirected", "trusted.overlay.metacopy"},
		{"redirected", "trusted.overlay.origin"},
		{"redirected", "trusted.other"},
		{"redirected", "security.ima"},
		{"redirected", "system.nfs4_acl"},
	} {
		if v, ok := get(c.name, c.attr); ok {
			t.Errorf("%s: the archive set %s = %q", c.name, c.attr, v)
		}
	}
	if v, ok := get("ping", "security.capability"); !ok || v != caps {
		t.Errorf("ping: security.capability = %q, %v; want the archive's", v, ok)
	}
	if v, ok := get("hidden", "user.note"); !ok || v != "kept" {
		t.Errorf("hidden: user.note = %q, %v; want kept (if the filesystem takes user.* xattrs)", v, ok)
	}
	roundTrip(t, in, ts, layer)
	assertOnlyLayer(t, parent)
}

func TestKeepXattr(t *testing.T) {
	for name, want := range map[string]bool{
		"security.capability": true, "user.mime_type": true, "system.posix_acl_access": true,
		"trusted.overlay.opaque": false, "trusted.overlay.redirect": false, "trusted.overlay.metacopy": false,
		"trusted.overlay.origin": false, "trusted.foo": false, "security.selinux": false, "security.ima": false,
		"system.nfs4_acl": false,
	} {
		if got := keepXattr(name); got != want {
			t.Errorf("keepXattr(%q) = %v, want %v", name, got, want)
		}
	}
}
