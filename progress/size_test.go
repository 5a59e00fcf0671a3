package progress

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestPlainUnitsMatchBars: a plain line's sizes are printed with the bars'
// own formatter (SI units), and each finished task is one line.
func TestPlainUnitsMatchBars(t *testing.T) {
	for n, want := range map[int64]string{2560: "2.6 KB", 8_000_000: "8.0 MB", 3_500_000_000: "3.5 GB"} {
		if got := size(n); got != want {
			t.Errorf("size(%d) = %q, want %q", n, got, want)
		}
	}
	var buf bytes.Buffer
	p := newPlain(&buf, "copying", time.Hour)
	task := p.Task("into c1", 0)
	task.Add(2_500_000)
	task.Done(nil)
	if !regexp.MustCompile(`^copying into c1: done, 2\.5 MB in [0-9.]+s`).MatchString(buf.String()) || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("plain line: %q", buf.String())
	}
}
