package main

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/platform"
)

// parsePlatforms parses --platform values as Docker does (os[/arch[/variant]]).
func parsePlatforms(values []string) ([]v1.Platform, error) {
	ps, err := platform.ParseAll(values)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return ps, nil
}
