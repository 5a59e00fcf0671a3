package transfer

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// Selected resolves docker save's arguments to store images with the tags
// they are saved under: "repo" means every tag of repo, "repo:tag" that
// tag, an ID or ID prefix the image without tags. Requests for the same
// image collapse into one, in the order first asked.
func Selected(st store.Store, args []string) ([]item.Item, error) {
	var out []item.Item
	index := map[v1.Hash]int{}
	add := func(id v1.Hash, tag *name.Tag) error {
		i, ok := index[id]
		if !ok {
			img, err := st.Images().Get(id)
			if err != nil {
				return err
			}
			i = len(out)
			index[id] = i
			// the store's parent link is what docker save writes as Parent
			parent, _ := v1.NewHash(st.Images().Metadata(id, "parent"))
			out = append(out, item.Item{Image: img, Parent: parent})
		}
		if tag != nil {
			for _, t := range out[i].Tags {
				if t.String() == tag.String() {
					return nil
				}
			}
			out[i].Tags = append(out[i].Tags, *tag)
		}
		return nil
	}
	for _, arg := range args {
		if repoOnly(arg) {
			tags, err := tagsOfRepo(st, arg)
			if err != nil {
				return nil, err
			}
			if len(tags) > 0 {
				for _, t := range tags {
					if err := add(t.ImageID, t.tag); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		id, err := st.Refs().Resolve(arg)
		if err != nil {
			return nil, err
		}
		tag, err := tagOf(st, id, arg)
		if err != nil {
			return nil, err
		}
		if err := add(id, tag); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tagOf is the tag arg names when it resolved to id as a tag the store
// holds; nil when it resolved as an ID or ID prefix (an "ee301c92" that
// parses as a name but is no tag of the image), as docker save decides.
func tagOf(st store.Store, id v1.Hash, arg string) (*name.Tag, error) {
	if looksLikeID(arg) {
		return nil, nil
	}
	t, err := reference.ParseTag(arg)
	if err != nil {
		return nil, nil
	}
	tags, err := st.Refs().TagsOf(id)
	if err != nil {
		return nil, err
	}
	if !containsStr(tags, reference.Familiar(t)) {
		return nil, nil
	}
	return &t, nil
}

// repoOnly reports a name given without tag or digest ("bb", "user/app").
func repoOnly(arg string) bool {
	last := arg[strings.LastIndex(arg, "/")+1:]
	return !strings.ContainsAny(last, ":@") && !looksLikeID(arg)
}

func looksLikeID(arg string) bool {
	if strings.HasPrefix(arg, "sha256:") {
		return true
	}
	if len(arg) < 12 || len(arg) > 64 {
		return false
	}
	for _, c := range arg {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// repoTag is one reference of a repository: a tag, or a digest reference
// (tag nil), whose image docker save takes untagged.
type repoTag struct {
	store.Tag
	tag *name.Tag
}

func tagsOfRepo(st store.Store, arg string) ([]repoTag, error) {
	r, err := reference.Parse(arg)
	if err != nil {
		return nil, err
	}
	repo := reference.FamiliarName(r)
	all, err := st.Refs().Tags()
	if err != nil {
		return nil, err
	}
	var out []repoTag
	for _, t := range all {
		tr, err := reference.Parse(t.Ref)
		if err != nil {
			continue
		}
		if reference.FamiliarName(tr) != repo {
			continue
		}
		rt := repoTag{Tag: t}
		if tag, ok := tr.(name.Tag); ok {
			rt.tag = &tag
		}
		out = append(out, rt)
	}
	return out, nil
}

// CheckSavable refuses what docker save refuses: an image without layers.
func CheckSavable(imgs []item.Item) error {
	for _, t := range imgs {
		ls, err := t.Image.Layers()
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return fmt.Errorf("empty export - not implemented")
		}
	}
	return nil
}
