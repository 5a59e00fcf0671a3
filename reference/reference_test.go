package reference

import "testing"

func TestFamiliar(t *testing.T) {
	cases := map[string]string{
		"nginx":                  "nginx:latest",
		"bb:1":                   "bb:1",
		"docker.io/library/bb:2": "bb:2",
		"user/app:v1":            "user/app:v1",
		"docker.io/user/app":     "user/app:latest",
		"localhost:5000/x/y:z":   "localhost:5000/x/y:z",
		"127.0.0.1:5000/app":     "127.0.0.1:5000/app:latest",
		"quay.io/a/b:c":          "quay.io/a/b:c",
	}
	for in, want := range cases {
		r, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := Familiar(r); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFullyQualified(t *testing.T) {
	r, _ := Parse("bb:1")
	if got := FullyQualified(r); got != "docker.io/library/bb:1" {
		t.Fatalf("got %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"Bad:Tag":  "invalid reference format: repository name must be lowercase",
		"bad:ta!g": `invalid reference format: "bad:ta!g"`,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
	}
	for in, want := range cases {
		_, err := Parse(in)
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q) error = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseNamedTagged("research-l"); err == nil || err.Error() != `invalid tag "research-l"` {
		t.Errorf("ParseNamedTagged without tag: %v", err)
	}
}
