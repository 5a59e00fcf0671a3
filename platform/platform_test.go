package platform

import (
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseNormalisesAsDocker(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":    "linux/amd64",
		"linux/arm64":    "linux/arm64",
		"linux/arm64/v8": "linux/arm64",
		"linux/aarch64":  "linux/arm64",
		"linux/arm":      "linux/arm/v7",
		"linux/armhf":    "linux/arm/v7",
		"linux/x86_64":   "linux/amd64",
		"Linux/AMD64":    "linux/amd64",
		"windows/amd64":  "windows/amd64",
		"linux/ppc64le":  "linux/ppc64le",
		"linux/riscv64":  "linux/riscv64",
	} {
		p, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := String(&p); got != want {
			t.Errorf("Parse(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "   ", "linux/", "/amd64", "linux/amd64/v1/x", "linux//amd64"} {
		if p, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", bad, String(&p))
		}
	}
}

func TestMatches(t *testing.T) {
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	arm64v8 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	armv7 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	armv6 := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}
	for _, c := range []struct {
		have   v1.Platform
		wanted []v1.Platform
		want   bool
	}{
		{arm64, []v1.Platform{arm64v8}, true},
		{arm64v8, []v1.Platform{arm64}, true},
		{armv6, []v1.Platform{armv7}, false},
		{armv7, []v1.Platform{armv6, armv7}, true},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, []v1.Platform{arm64}, false},
	} {
		if got := Matches(c.have, c.wanted); got != c.want {
			t.Errorf("Matches(%s, %s) = %v, want %v", String(&c.have), Join(c.wanted), got, c.want)
		}
	}
}

func TestHost(t *testing.T) {
	h := Host()
	if h.OS != "linux" || !Matches(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, []v1.Platform{h}) {
		t.Errorf("Host() = %s on %s", String(&h), runtime.GOARCH)
	}
	if !RunsOnHost(h) {
		t.Error("the host does not run its own platform")
	}
}
