package transfer

import (
	"fmt"
	"math/rand"
	"path"
	"testing"
)

// TestExportEqualsFlattenRandom: random Docker-shaped layer stacks (every
// entry's parents present in its layer, no duplicate names in a layer, hard
// links to a file of the same layer) give one tree through the diff dirs
// and through the tars.
func TestExportEqualsFlattenRandom(t *testing.T) {
	st := rootStore(t)
	names := []string{"a", "b", "a/c", "a/d", "b/e", "a/c/f"}
	for seed := int64(1); seed <= 40; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		var layers [][]byte
		for range 1 + rnd.Intn(4) {
			layers = append(layers, randomLayer(t, rnd, names))
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkOneTree(t, st, synthImage(t, layers...)) })
	}
}

func randomLayer(t *testing.T, rnd *rand.Rand, names []string) []byte {
	used := map[string]bool{}
	var ents []oneTreeEnt
	var files []string
	// dir adds d and its parents as directory entries.
	var dir func(d string) bool
	dir = func(d string) bool {
		if d == "." || d == "" {
			return true
		}
		if used[d] {
			return used[d+"/"]
		}
		if !dir(path.Dir(d)) {
			return false
		}
		used[d], used[d+"/"] = true, true
		ents = append(ents, otDir(d+"/"))
		return true
	}
	for range 1 + rnd.Intn(6) {
		n := names[rnd.Intn(len(names))]
		if used[n] || !dir(path.Dir(n)) {
			continue
		}
		switch k := rnd.Intn(6); {
		case k == 0:
			dir(n)
		case k == 1:
			used[n] = true
			ents = append(ents, otWhiteout(path.Join(path.Dir(n), ".wh."+path.Base(n))))
		case k == 2 && !used[path.Join(n, ".wh..wh..opq")]:
			if dir(n) {
				used[path.Join(n, ".wh..wh..opq")] = true
				ents = append(ents, otFile(path.Join(n, ".wh..wh..opq"), ""))
			}
		case k == 3 && len(files) > 0:
			used[n] = true
			ents = append(ents, otLink(n, files[rnd.Intn(len(files))]))
		case k == 4:
			used[n] = true
			ents = append(ents, otSymlink(n, "target-"+n))
		default:
			used[n] = true
			files = append(files, n)
			ents = append(ents, otFile(n, fmt.Sprintf("%s %d\n", n, rnd.Intn(3))))
		}
	}
	return oneTreeTar(t, ents...)
}
