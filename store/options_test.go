package store

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"64g": 64 << 30, "64GiB": 64 << 30, "512m": 512 << 20, "1.5G": 3 << 29, "1048576": 1 << 20, "0": 0, "10kb": 10 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "g", "-1", "12x", "99999999p"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): want an error", in)
		}
	}
	if s := FormatSize(64 << 30); s != "64 GiB" {
		t.Errorf("FormatSize(64 GiB) = %q", s)
	}
}
