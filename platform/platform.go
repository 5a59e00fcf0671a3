// Package platform is imgtool's one definition of "the host platform" and
// of how a wanted platform matches an image's, so that load, save, convert,
// pull, push and flatten agree (also on arm variants). It is a thin layer
// over containerd's platforms package, which Docker itself uses: the same
// parsing, normalisation (arm64 is arm64/v8, aarch64 is arm64, ...) and
// matching rules.
package platform

import (
	"strings"

	cplatforms "github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Host is the platform imgtool runs on, normalised as containerd and
// Docker see it (linux/arm64/v8, linux/arm/v7, linux/amd64).
func Host() v1.Platform {
	return fromSpec(cplatforms.Normalize(cplatforms.DefaultSpec()))
}

// Parse reads os[/arch[/variant]] as Docker's --platform does and
// normalises it. A bad value gets containerd's error, word for word what
// Docker prints for it (`"   " is an invalid component of "   "…`).
func Parse(s string) (v1.Platform, error) {
	p, err := cplatforms.Parse(s)
	if err != nil {
		return v1.Platform{}, err
	}
	return fromSpec(cplatforms.Normalize(p)), nil
}

// ParseAll parses every value of a repeatable --platform flag.
func ParseAll(values []string) ([]v1.Platform, error) {
	out := make([]v1.Platform, 0, len(values))
	for _, v := range values {
		p, err := Parse(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// String is os/arch[/variant] ("unknown platform" for nil).
func String(p *v1.Platform) string {
	if p == nil {
		return "unknown platform"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Join lists platforms as "a, b".
func Join(ps []v1.Platform) string {
	s := make([]string, len(ps))
	for i := range ps {
		s[i] = String(&ps[i])
	}
	return strings.Join(s, ", ")
}

// Of is the platform an image config declares (nil when it names none).
func Of(cf *v1.ConfigFile) *v1.Platform {
	if cf == nil || cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	return &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
}

// Matches reports whether an image of platform have is one of wanted,
// after normalisation (an arm64 image without a variant is arm64/v8).
// Exact: asking for linux/arm/v7 does not take linux/arm/v6.
func Matches(have v1.Platform, wanted []v1.Platform) bool {
	h := toSpec(have)
	for _, w := range wanted {
		if cplatforms.NewMatcher(toSpec(w)).Match(h) {
			return true
		}
	}
	return false
}

// RunsOnHost reports whether the host runs images of platform have, as
// Docker picks a platform from an index for the host: the host's own, or
// an older variant of it (arm/v6 on an arm/v7 host).
func RunsOnHost(have v1.Platform) bool {
	return cplatforms.Default().Match(toSpec(have))
}

// HostLess ranks two platforms the host can run the way containerd does:
// the host's own first, then older variants.
func HostLess(a, b v1.Platform) bool {
	return cplatforms.Default().Less(toSpec(a), toSpec(b))
}

func toSpec(p v1.Platform) specs.Platform {
	return specs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}

func fromSpec(p specs.Platform) v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures}
}
