package store

import (
	"encoding/json"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
)

// Info is what images, inspect and history show of an image.
type Info struct {
	ID          v1.Hash
	Tags        []string // familiar references, sorted
	Created     time.Time
	Size        int64 // sum of the chain's layer sizes, as docker images shows
	Config      []byte
	Layers      []*Layer // base first
	Parent      string   // imagedb parent ("" if none)
	LastTagTime string
}

// Info gathers an image's listing facts.
func (s *Store) Info(id v1.Hash) (*Info, error) {
	config, err := s.RawConfig(id)
	if err != nil {
		return nil, err
	}
	diffIDs, err := ParseConfig(config)
	if err != nil {
		return nil, err
	}
	info := &Info{ID: id, Config: config, Parent: s.Metadata(id, "parent"), LastTagTime: s.Metadata(id, "lastUpdated")}
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
func (s *Store) List() ([]*Info, error) {
	unlock, err := s.Reader()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := s.ImageIDs()
	if err != nil {
		return nil, err
	}
	var out []*Info
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

func sortNewestFirst(infos []*Info) {
	for i := 1; i < len(infos); i++ {
		for j := i; j > 0 && infos[j].Created.After(infos[j-1].Created); j-- {
			infos[j], infos[j-1] = infos[j-1], infos[j]
		}
	}
}
