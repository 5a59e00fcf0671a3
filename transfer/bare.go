package transfer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imgtool/imgtool/store"
)

// ResolveSource parses a command's SRC as ParseRef does; a bare name (no
// transport) that no store image has but that is an existing file or
// directory names the archive or layout there, so `verify app.tar`,
// `convert app.tar oci:dir`, `push app.tar REF` and `flatten app.tar
// out.tar` work as scripts write them. The store is asked first, as docker
// asks its daemon: a directory called like a tag is still the tag. A bare
// name that is neither fails naming the transport forms.
func ResolveSource(s string, env *Env) (Ref, error) {
	ref, err := ParseRef(s)
	if err != nil || ref.Transport != "store" {
		return ref, err
	}
	inStore, storeErr := storeHas(env, ref.Name)
	if inStore {
		return ref, nil
	}
	fi, statErr := os.Stat(s)
	switch {
	case statErr == nil && fi.IsDir():
		return layoutRef(s)
	case statErr == nil:
		return Ref{Transport: "docker-archive", Path: s}, nil
	case storeErr != nil:
		return ref, nil // the store's own error comes from the open
	}
	return Ref{}, fmt.Errorf("no image %q in the store, and no file or directory of that name; "+
		"name an archive or layout as docker-archive:PATH, oci-archive:PATH, oci:DIR or dir:DIR, a registry as docker://REF", s)
}

// storeHas reports whether the store resolves name (a tag, an ID or ID
// prefix); the error is the store's when it cannot be opened or read, or
// the name is an ambiguous ID prefix. No
// lock is taken: repositories.json is replaced atomically, and the
// command's own open of the image checks again under its lock.
func storeHas(env *Env, name string) (bool, error) {
	if env == nil || env.Store == nil {
		return false, nil
	}
	st, err := env.Store()
	if err != nil {
		return false, err
	}
	_, err = st.Refs().Resolve(name)
	if errors.Is(err, os.ErrPermission) || errors.Is(err, store.ErrAmbiguous) {
		return false, err // the store says it better
	}
	return err == nil, nil
}

// layoutRef is the location of a directory: an OCI layout (oci-layout or
// index.json) or a skopeo dir: layout (manifest.json).
func layoutRef(dir string) (Ref, error) {
	has := func(f string) bool { _, err := os.Stat(filepath.Join(dir, f)); return err == nil }
	switch {
	case has("oci-layout") || has("index.json"):
		return Ref{Transport: "oci", Path: dir}, nil
	case has("manifest.json"):
		return Ref{Transport: "dir", Path: dir}, nil
	}
	return Ref{}, fmt.Errorf("%s: a directory that is neither an OCI layout (oci-layout, index.json) nor a dir: layout (manifest.json)", dir)
}
