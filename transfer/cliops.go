package transfer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ContainerState is what docker ps shows of a container beyond the
// store's record: its state times, exit code and networks, from its
// config.v2.json.
type ContainerState struct {
	Running, Paused, Restarting, Dead, Removing bool
	ExitCode                                    int
	StartedAt, FinishedAt                       time.Time
	Networks                                    []string // sorted names
}

// ContainerStateOf reads a container's state; a file that cannot be read
// gives the zero state.
func ContainerStateOf(st Store, c *Container) ContainerState {
	var cf struct {
		State struct {
			Running, Paused, Restarting, Dead bool
			RemovalInProgress                 bool
			ExitCode                          int
			StartedAt, FinishedAt             time.Time
		}
		NetworkSettings struct {
			Networks map[string]json.RawMessage
		}
	}
	b, err := os.ReadFile(filepath.Join(st.Root(), "containers", c.ID, "config.v2.json"))
	if err != nil || json.Unmarshal(b, &cf) != nil {
		return ContainerState{}
	}
	s := cf.State
	out := ContainerState{Running: s.Running, Paused: s.Paused, Restarting: s.Restarting, Dead: s.Dead,
		Removing: s.RemovalInProgress, ExitCode: s.ExitCode, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
	for n := range cf.NetworkSettings.Networks {
		out.Networks = append(out.Networks, n)
	}
	sort.Strings(out.Networks)
	return out
}
