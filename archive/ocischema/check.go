package ocischema

import (
	"fmt"

	"github.com/opencontainers/go-digest"
)

// CheckManifest validates an image manifest (Manifest) and
// refuses, naming it, a digest whose algorithm the spec's grammar allows
// but imgtool cannot hash (such as image-spec's "sha256+b64" example): the
// document is valid, its blobs cannot be verified.
func CheckManifest(raw []byte, mt string) error {
	m, err := Manifest(raw, mt)
	if err != nil {
		return err
	}
	if err := verifiable("config", m.Config.Digest); err != nil {
		return err
	}
	for i, l := range m.Layers {
		if err := verifiable(fmt.Sprintf("layers[%d]", i), l.Digest); err != nil {
			return err
		}
	}
	return nil
}

// CheckIndex validates an image index (Index) and refuses a
// descriptor digest imgtool cannot hash, as CheckManifest does.
func CheckIndex(raw []byte) error {
	x, err := Index(raw)
	if err != nil {
		return err
	}
	for i, d := range x.Manifests {
		if err := verifiable(fmt.Sprintf("manifests[%d]", i), d.Digest); err != nil {
			return err
		}
	}
	return nil
}

func verifiable(field string, d digest.Digest) error {
	if Verifiable(d) {
		return nil
	}
	return fmt.Errorf("%s: digest %s is valid by the OCI spec's grammar, but its algorithm %q is not one imgtool can verify (sha256, sha512)", field, d, d.Algorithm())
}
