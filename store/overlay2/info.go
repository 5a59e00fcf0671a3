package overlay2

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// info gathers an image's listing facts.
func (s *Store) info(id v1.Hash) (*store.Info, error) {
	config, err := s.rawConfig(id)
	if err != nil {
		return nil, err
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	info := &store.Info{ID: id, Config: config, Parent: s.metadata(id, "parent"), LastTagTime: s.metadata(id, "lastUpdated")}
	var created struct {
		Created time.Time `json:"created"`
	}
	_ = json.Unmarshal(config, &created)
	info.Created = created.Created
	chains := imageid.ChainIDs(diffIDs)
	for _, c := range chains {
		l, err := s.layer(c)
		if err != nil {
			return nil, err
		}
		info.Layers = append(info.Layers, l)
		info.Size += l.Size
	}
	if info.Tags, err = s.tagsOf(id); err != nil {
		return nil, err
	}
	return info, nil
}

// list returns every image whose layers are all present (Docker drops
// the others at startup), newest first.
func (s *Store) list() ([]*store.Info, error) {
	unlock, err := s.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := s.imageIDs()
	if err != nil {
		return nil, err
	}
	var out []*store.Info
	for _, id := range ids {
		info, err := s.info(id)
		if err != nil {
			continue
		}
		out = append(out, info)
	}
	sortNewestFirst(out)
	return out, nil
}

func sortNewestFirst(infos []*store.Info) {
	for i := 1; i < len(infos); i++ {
		for j := i; j > 0 && infos[j].Created.After(infos[j-1].Created); j-- {
			infos[j], infos[j-1] = infos[j-1], infos[j]
		}
	}
}
