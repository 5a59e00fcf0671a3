package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
)

// imageResult is one image in a --json result (docs/json.md).
type imageResult struct {
	ID        string   `json:"id"`
	Tags      []string `json:"tags"`
	DiffIDs   []string `json:"diff_ids"`
	ChainIDs  []string `json:"chain_ids"`
	Platform  string   `json:"platform,omitempty"`
	Digest    string   `json:"digest,omitempty"` // manifest (or index) digest, where the output has one
	Platforms []string `json:"platforms,omitempty"`
}

func newImageResult(id v1.Hash, tags []string, diffIDs []v1.Hash) imageResult {
	r := imageResult{ID: id.String(), Tags: tags, DiffIDs: []string{}, ChainIDs: []string{}}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	for _, d := range diffIDs {
		r.DiffIDs = append(r.DiffIDs, d.String())
	}
	for _, c := range imageid.ChainIDs(diffIDs) {
		r.ChainIDs = append(r.ChainIDs, c.String())
	}
	return r
}

// result is the --json document every command prints: on stdout, or on
// stderr when stdout carries an archive.
type result struct {
	Command  string        `json:"command"`
	Images   []imageResult `json:"images,omitempty"`
	Output   string        `json:"output,omitempty"`
	Format   string        `json:"format,omitempty"`
	Bytes    int64         `json:"bytes,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	OK       *bool         `json:"ok,omitempty"`       // verify
	Layers   int           `json:"layers,omitempty"`   // verify: layers checked
	Problems []string      `json:"problems,omitempty"` // verify: one per mismatch
	Warnings []string      `json:"warnings,omitempty"` // verify: what docker accepts but is not strictly right
	Duration float64       `json:"duration_seconds"`
}

func printResult(w io.Writer, r *result, start time.Time) error {
	r.Duration = time.Since(start).Seconds()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// resultStream is stderr when the archive goes to stdout.
func resultStream(output string) io.Writer {
	if output == "" || output == "-" {
		return os.Stderr
	}
	return os.Stdout
}

// countingWriter counts what an archive writer produces and, for --json
// only (sha256 is the costliest step of a save), hashes it.
type countingWriter struct {
	w io.Writer
	n int64
	h hash.Hash
}

func newCountingWriter(w io.Writer, hashed bool) *countingWriter {
	c := &countingWriter{w: w}
	if hashed {
		c.h = sha256.New()
	}
	return c
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	return n, err
}

func (c *countingWriter) sum() string {
	if c.h == nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(c.h.Sum(nil))
}
