package main

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// parsePlatforms parses --platform values: os/arch[/variant].
func parsePlatforms(values []string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, v := range values {
		p, err := v1.ParsePlatform(v)
		if err != nil {
			return nil, usageError{"invalid --platform " + v + ": " + err.Error()}
		}
		out = append(out, *p)
	}
	return out, nil
}
