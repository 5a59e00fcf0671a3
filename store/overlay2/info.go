package overlay2

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// Info gathers an image's listing facts.
func (s *Store) Info(id v1.Hash) (*store.Info, error) {
	config, err := s.RawConfig(id)
	if err != nil {
		return nil, err
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	info := &store.Info{ID: id, Config: config, Parent: s.Metadata(id, "parent"), LastTagTime: s.Metadata(id, "lastUpdated")}
	var created struct {
		Created time.Time `json:"created"`
	}
	_ = json.Unmarshal(config, &created)
	info.Created = created.Created
	chains := imageid.ChainIDs(diffIDs)
	for _, c := range chains {
		l, err := s.Layer(c)
		if err != nil {
			return nil, err
		}
		info.Layers = append(info.Layers, l)
		info.Size += l.Size
	}
	if info.Tags, err = s.TagsOf(id); err != nil {
		return nil, err
	}
	return info, nil
}

// List returns every image whose layers are all present (Docker drops
// the others at startup), newest first.
func (s *Store) List() ([]*store.Info, error) {
	unlock, err := s.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := s.ImageIDs()
	if err != nil {
		return nil, err
	}
	var out []*store.Info
	for _, id := range ids {
		info, err := s.Info(id)
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
