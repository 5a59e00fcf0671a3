// Package ocischema is the one validation of OCI documents (image
// manifests, image indexes, image configs) that every reader runs before
// it uses one: archive/oci and dockersave's index.json, dir: layouts,
// registry manifests, and verify. A document it refuses is not loaded.
//
// It decodes with image-spec's own Go types (specs-go/v1), which refuses
// wrong JSON types (a size that is a string, a subject that is not an
// object), and adds the rules of image-spec's JSON schemas that its
// schema tests assert (schema/{config,manifest,imageindex}_test.go):
// media types of the RFC 6838 form, the digest grammar, required
// descriptor fields, schemaVersion 2 (but not an image manifest's first
// layer: see Manifest),
// a platform's os and architecture, and Env entries of the form KEY=VALUE.
// Hand-written rather than image-spec's schema.Validator: that compiles
// the JSON schemas on every call through a JSON-schema module imgtool
// does not otherwise need, and its errors name schema paths, not fields.
package ocischema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// mediaTypeRe is defs-descriptor.json's mediaType pattern.
var mediaTypeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// digestRe is defs-descriptor.json's digest pattern (the spec's grammar;
// algorithms beyond sha256/sha512 are allowed).
var digestRe = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

// envRe is the rule image-spec's validator applies to config.Env.
var envRe = regexp.MustCompile(`^[^=]+=.*$`)

// Error is a document the spec's schema refuses.
type Error struct {
	Field string // JSON path of the offending field ("" for the whole document)
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "invalid by the OCI image-spec schema: " + e.Msg
	}
	return fmt.Sprintf("invalid by the OCI image-spec schema: %s: %s", e.Field, e.Msg)
}

func fail(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// MediaType checks a media type against the spec's pattern.
func MediaType(field, mt string) error {
	if !mediaTypeRe.MatchString(mt) {
		return fail(field, "media type %q is not of the form type/subtype", mt)
	}
	return nil
}

// Digest checks a digest against the spec's grammar, and a registered
// algorithm's (sha256, sha512) encoded length and alphabet. An
// unregistered algorithm that fits the grammar is valid: the spec lets
// documents carry it (image-spec's validator ignores
// digest.ErrDigestUnsupported); Verifiable says whether imgtool can
// check it.
func Digest(field, d string) error {
	if !digestRe.MatchString(d) {
		return fail(field, "digest %q does not match the grammar algorithm:encoded", d)
	}
	if err := digest.Digest(d).Validate(); err != nil && !errors.Is(err, digest.ErrDigestUnsupported) {
		return fail(field, "digest %q: %v", d, err)
	}
	return nil
}

// Verifiable reports whether imgtool can hash with d's algorithm.
func Verifiable(d digest.Digest) bool { return d.Algorithm().Available() }

// descriptor checks one content descriptor: mediaType, size and digest
// are required (content-descriptor.json), with the spec's patterns.
func descriptor(field string, raw json.RawMessage) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return fail(field, "not a descriptor object: %v", err)
	}
	for _, k := range []string{"mediaType", "size", "digest"} {
		if _, ok := probe[k]; !ok {
			return fail(field+"."+k, "missing (required)")
		}
	}
	var d ocispec.Descriptor
	if err := json.Unmarshal(raw, &d); err != nil {
		return fail(field, "%v", err)
	}
	if err := MediaType(field+".mediaType", d.MediaType); err != nil {
		return err
	}
	if err := Digest(field+".digest", string(d.Digest)); err != nil {
		return err
	}
	if d.ArtifactType != "" {
		if err := MediaType(field+".artifactType", d.ArtifactType); err != nil {
			return err
		}
	}
	if d.Size < 0 {
		return fail(field+".size", "negative size %d", d.Size)
	}
	return nil
}

// header checks the fields manifests and indexes share: schemaVersion 2,
// and mediaType and artifactType of the spec's form when present.
func header(schemaVersion int, mt, artifactType string) error {
	if schemaVersion != 2 {
		return fail("schemaVersion", "is %d, must be 2", schemaVersion)
	}
	if mt != "" {
		if err := MediaType("mediaType", mt); err != nil {
			return err
		}
	}
	if artifactType != "" {
		return MediaType("artifactType", artifactType)
	}
	return nil
}

// rawDoc is a manifest or index with its descriptors kept raw, to check
// required keys that image-spec's types cannot tell from zero values.
type rawDoc struct {
	Config    json.RawMessage   `json:"config"`
	Layers    []json.RawMessage `json:"layers"`
	Manifests []json.RawMessage `json:"manifests"`
	Subject   json.RawMessage   `json:"subject"`
}

func decode(raw []byte, what string, v any, rd *rawDoc) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fail("", "%s: %v", what, err)
	}
	if err := json.Unmarshal(raw, rd); err != nil {
		return fail("", "%s: %v", what, err)
	}
	return nil
}

// subject checks the optional subject descriptor (referrers).
func subject(raw json.RawMessage) error {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	return descriptor("subject", raw)
}

// Manifest validates an image manifest (OCI, or Docker's schema2, which
// has the same shape) and returns it decoded. mt is the media type the
// document is known by (its descriptor's, else its own).
func Manifest(raw []byte, mt string) (*ocispec.Manifest, error) {
	var m ocispec.Manifest
	var rd rawDoc
	if err := decode(raw, "manifest", &m, &rd); err != nil {
		return nil, err
	}
	if err := header(m.SchemaVersion, m.MediaType, m.ArtifactType); err != nil {
		return nil, err
	}
	if rd.Config == nil {
		return nil, fail("config", "missing (required)")
	}
	if err := descriptor("config", rd.Config); err != nil {
		return nil, err
	}
	if rd.Layers == nil {
		return nil, fail("layers", "missing (required)")
	}
	// An empty layers array is what image-spec's schema test manifest-05
	// calls invalid, but Docker, BuildKit (FROM scratch + LABEL), containerd
	// and ggcr's empty.Image make and accept such images, and refusing them
	// would refuse what imgtool's own save writes for them. It is read;
	// verify reports it as a warning.
	for i, l := range rd.Layers {
		if err := descriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
			return nil, err
		}
	}
	if err := subject(rd.Subject); err != nil {
		return nil, err
	}
	return &m, nil
}

// Index validates an image index (OCI, or Docker's manifest list) and
// returns it decoded.
func Index(raw []byte) (*ocispec.Index, error) {
	var x ocispec.Index
	var rd rawDoc
	if err := decode(raw, "index", &x, &rd); err != nil {
		return nil, err
	}
	if err := header(x.SchemaVersion, x.MediaType, x.ArtifactType); err != nil {
		return nil, err
	}
	if rd.Manifests == nil {
		return nil, fail("manifests", "missing (required)")
	}
	for i, d := range rd.Manifests {
		field := fmt.Sprintf("manifests[%d]", i)
		if err := descriptor(field, d); err != nil {
			return nil, err
		}
		if err := platform(field, d); err != nil {
			return nil, err
		}
	}
	if err := subject(rd.Subject); err != nil {
		return nil, err
	}
	return &x, nil
}

// platform checks an index entry's platform: architecture and os are
// required when it is present.
func platform(field string, raw json.RawMessage) error {
	var probe struct {
		Platform map[string]json.RawMessage `json:"platform"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || probe.Platform == nil {
		return nil // a type error was reported by the descriptor decode
	}
	for _, k := range []string{"architecture", "os"} {
		if _, ok := probe.Platform[k]; !ok {
			return fail(field+".platform."+k, "missing (required when platform is present)")
		}
	}
	return nil
}

// Config validates an image config by image-spec's Image type and the
// Env rule of its validator.
func Config(raw []byte) error {
	var img ocispec.Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return fail("", "config: %v", err)
	}
	for i, e := range img.Config.Env {
		if !envRe.MatchString(e) {
			return fail(fmt.Sprintf("config.Env[%d]", i), "%q is not of the form KEY=VALUE", e)
		}
	}
	return nil
}
