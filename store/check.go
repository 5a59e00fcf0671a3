package store

import "fmt"

// Severity classifies what Check found.
type Severity int

const (
	// Corrupt is damage that no interrupted imgtool write leaves behind: a
	// config that does not hash to its name, an image whose layers are
	// missing, a layer whose files are incomplete. Repair does not touch it.
	Corrupt Severity = iota
	// Garbage is a leftover of an interrupted write (a write-set, a
	// *-removing layer, an overlay2 dir nothing references, a dangling l/
	// link, a temp file, a tag of a missing image). Repair removes it.
	Garbage
	// Unused is a complete layer that no image or container uses, as an
	// interrupted load or rmi leaves. It is only a warning; Repair removes it.
	Unused
)

func (s Severity) String() string {
	switch s {
	case Garbage:
		return "garbage"
	case Unused:
		return "warning"
	}
	return "error"
}

// Problem is one finding of Check.
type Problem struct {
	Severity Severity
	Msg      string // one line, paths relative to the data root
	Repaired bool
	fix      func() error
}

func (p Problem) String() string {
	if p.Repaired {
		return "repaired: " + p.Msg
	}
	return p.Severity.String() + ": " + p.Msg
}

// CheckOptions select the depth of Check and whether it repairs.
type CheckOptions struct {
	// Deep regenerates every layer tar from tar-split and the layer dir and
	// checks it against the layer's diff ID.
	Deep bool
	// Repair removes Garbage and Unused findings (the caller holds the
	// writer lock).
	Repair bool
}

// CheckReport lists what Check found, repaired problems included.
type CheckReport struct {
	Problems []Problem
}

// Failed reports whether problems remain that make `check` fail: anything
// but warnings that was not repaired.
func (r *CheckReport) Failed() bool {
	for _, p := range r.Problems {
		if !p.Repaired && p.Severity != Unused {
			return true
		}
	}
	return false
}

// NewProblem is a finding of a backend's scan; fix, when not nil, is
// what Repair runs to remove it.
func NewProblem(sev Severity, fix func() error, msg string) Problem {
	return Problem{Severity: sev, Msg: msg, fix: fix}
}

// Repair runs one finding's fix; it reports false for a finding that has
// none. Backends use it to repair a subset of the findings (the garbage
// of a killed writer, when the next writer takes the lock).
func Repair(p Problem) (bool, error) {
	if p.fix == nil {
		return false, nil
	}
	return true, p.fix()
}

// RunCheck is the backend-neutral check loop: one scan, or with Repair up
// to four scan-and-fix passes (a fix can uncover more garbage, e.g. a
// removed layer leaves its overlay2 dir unreferenced) and a final scan.
// The repaired findings come first in the report.
func RunCheck(scan func(deep bool) (*CheckReport, error), opts CheckOptions) (*CheckReport, error) {
	if !opts.Repair {
		return scan(opts.Deep)
	}
	var repaired []Problem
	for pass := 0; pass < 4; pass++ {
		r, err := scan(false)
		if err != nil {
			return nil, err
		}
		did := false
		for _, p := range r.Problems {
			if p.fix == nil {
				continue
			}
			if err := p.fix(); err != nil {
				return nil, fmt.Errorf("repairing %s: %w", p.Msg, err)
			}
			p.Repaired = true
			repaired = append(repaired, p)
			did = true
		}
		if !did {
			break
		}
	}
	r, err := scan(opts.Deep)
	if err != nil {
		return nil, err
	}
	r.Problems = append(repaired, r.Problems...)
	return r, nil
}
