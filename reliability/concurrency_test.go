package reliability

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWriters runs several imgtool processes on one store at
// once: loads, saves, tags, rmis, image listings and checks. Each must
// succeed or fail cleanly (exit 1, one line, an expected reason), and the
// store must be consistent afterwards.
func TestConcurrentWriters(t *testing.T) {
	rnd := rand.New(rand.NewSource(*seedFlag))
	f := newCrashFixture(t, rnd)
	root := filepath.Join(t.TempDir(), "store")
	copyTree(t, f.template, root)
	work := t.TempDir()
	workers, iterations := 4, 8
	if testing.Short() {
		iterations = 4 // make unit: a quick pass
	}
	type op struct {
		args []string
		save string // output file of a save
	}
	// Each worker's ops are drawn up front, so the schedule is seeded.
	plans := make([][]op, workers)
	for w := range plans {
		for i := 0; i < iterations; i++ {
			var o op
			switch rnd.Intn(8) {
			case 0, 1:
				o.args = []string{"load", "-q", "-i", f.archive}
			case 2:
				o.save = filepath.Join(work, fmt.Sprintf("save-%d-%d.tar", w, i))
				o.args = []string{"save", "-o", o.save, []string{"a:1", "c:1", "b:1"}[rnd.Intn(3)]}
			case 3:
				o.args = []string{"tag", "b:1", fmt.Sprintf("t%d:%d", w, rnd.Intn(3))}
			case 4:
				o.args = []string{"rmi", fmt.Sprintf("t%d:%d", rnd.Intn(workers), rnd.Intn(3))}
			case 5:
				o.args = []string{"rmi", []string{"c:1", "d:1"}[rnd.Intn(2)]}
			case 6:
				o.args = []string{"images"}
			case 7:
				o.args = []string{"check"}
			}
			plans[w] = append(plans[w], o)
		}
	}
	// Failures that a concurrent change explains.
	allowed := []string{"No such image", "conflict: unable to delete", "does not exist"}
	var mu sync.Mutex
	var saves []string
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for _, o := range plans[w] {
				res := run{root: root, args: o.args, dir: work}.do(t)
				if res.code == 0 {
					if o.save != "" {
						mu.Lock()
						saves = append(saves, o.save)
						mu.Unlock()
					}
					continue
				}
				msg := strings.TrimSpace(res.stderr)
				ok := res.code == 1 && !strings.Contains(msg, "\n") && strings.HasPrefix(msg, "imgtool "+o.args[0]+": ")
				if ok {
					ok = false
					for _, a := range allowed {
						ok = ok || strings.Contains(msg, a)
					}
				}
				if o.args[0] == "check" && res.code == 1 {
					t.Errorf("check during concurrent writes found problems:\n%s", res)
					continue
				}
				if !ok {
					t.Errorf("unclean failure:\n%s", res)
				}
				if o.save != "" {
					if _, err := os.Stat(o.save); err == nil {
						t.Errorf("failed save left %s", o.save)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	res := run{root: root, args: []string{"check", "--deep"}}.must(t)
	if strings.TrimSpace(res.stdout) != "" {
		t.Errorf("store not clean after concurrent writes:\n%s", res.stdout)
	}
	for ref, id := range readTags(t, root) {
		if !imageIDs(root)[id] {
			t.Errorf("tag %s names missing image %s", ref, id)
		}
	}
	// Whatever save wrote is a whole archive: it loads into a fresh store.
	if len(saves) > 3 {
		saves = saves[:3]
	}
	for _, s := range saves {
		fresh := filepath.Join(t.TempDir(), "store")
		mustImgtool(t, fresh, "load", "-q", "-i", s)
		checkStore(t, run{root: fresh})
	}
	t.Logf("%d workers x %d ops; %d saves verified", workers, iterations, len(saves))
}
