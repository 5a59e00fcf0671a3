package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// extractOnlyLayer copies the one layer of a docker-save archive (the
// first manifest's first Layers entry) to dst, for the GNU tar rows.
func extractOnlyLayer(archive, dst string) error {
	name, err := firstLayerName(archive)
	if err != nil {
		return err
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: no entry %s", archive, name)
		}
		if err != nil {
			return err
		}
		if h.Name != name {
			continue
		}
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
}

func firstLayerName(archive string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: manifest.json: %w", archive, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ Layers []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return "", fmt.Errorf("%s: manifest.json: %w", archive, err)
		}
		if len(m) == 0 || len(m[0].Layers) == 0 {
			return "", fmt.Errorf("%s: manifest.json names no layer", archive)
		}
		return m[0].Layers[0], nil
	}
}
