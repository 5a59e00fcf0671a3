package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// A backend opens a data root of its kind. Backends register themselves
// (moby's graphdriver.Register), so that this package does not import
// them and they can import its types.
type backend func(root string) (Store, error)

var (
	backendsMu sync.Mutex
	backends   = map[string]backend{}
)

// Register makes a backend available to Open under a driver name.
func Register(driver string, open func(root string) (Store, error)) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[driver] = open
}

// DefaultRoot is $IMGTOOL_ROOT, else /var/lib/imgtool for root, else
// $XDG_DATA_HOME/imgtool (~/.local/share/imgtool).
func DefaultRoot() string {
	if r := os.Getenv("IMGTOOL_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/imgtool"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "imgtool")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "imgtool")
}

// Open opens the data root at root with the backend its layout names. A
// root that does not exist yet is an empty overlay2 store, created on the
// first write.
func Open(root string) (Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	driver, err := Detect(abs)
	if err != nil {
		return nil, err
	}
	backendsMu.Lock()
	open := backends[driver]
	backendsMu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("%s: no %s backend in this build (registered: %s)", abs, driver, registered())
	}
	return open(abs)
}

func registered() string {
	var names []string
	for n := range backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
