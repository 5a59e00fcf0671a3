package main

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/transfer"
)

// parseFilters reads docker's --filter KEY=VALUE flags; a key outside
// allowed is docker's "invalid filter 'KEY'".
func parseFilters(list []string, allowed ...string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range list {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usageError{fmt.Sprintf("invalid argument %q for \"-f, --filter\" flag: bad format of filter (expected name=value)", f)}
		}
		k = strings.ToLower(strings.TrimSpace(k))
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

// boolFilter is a filter's true/false value, as the daemon reads it.
func boolFilter(f map[string][]string, key string) (set, val bool, err error) {
	vs := f[key]
	if len(vs) == 0 {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(strings.ToLower(vs[len(vs)-1]))
	if perr != nil {
		return false, false, fmt.Errorf("Invalid filter '%s=%s'", key, vs[len(vs)-1]) //lint:ignore ST1005 docker's words
	}
	return true, b, nil
}

// familiarMatch is docker's reference.FamiliarMatch: the pattern matches
// the familiar reference or, failing that, its name.
func familiarMatch(pattern, ref string) bool {
	pattern = normalizePattern(pattern)
	if ok, _ := path.Match(pattern, ref); ok {
		return true
	}
	name := ref
	if i := strings.LastIndex(name, "@"); i >= 0 {
		name = name[:i]
	} else if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// normalizePattern writes a pattern without wildcards in familiar form,
// as Docker normalises a name (library/debian, docker.io/debian and
// index.docker.io/library/debian are all debian); a tag stays when given.
func normalizePattern(pattern string) string {
	if strings.ContainsAny(pattern, "*?[") {
		return pattern
	}
	r, err := reference.Parse(pattern)
	if err != nil {
		return pattern
	}
	if last := pattern[strings.LastIndex(pattern, "/")+1:]; strings.Contains(last, ":") || strings.Contains(pattern, "@") {
		return reference.Familiar(r)
	}
	return reference.FamiliarName(r)
}

// matchLabels is docker's label filter: every KEY or KEY=VALUE must hold.
func matchLabels(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasV := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || hasV && got != v {
			return false
		}
	}
	return true
}

// imageLabels are the labels of an image's config.
func imageLabels(info *transfer.ImageInfo) map[string]string {
	var c struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	_ = json.Unmarshal(info.Config, &c)
	return c.Config.Labels
}

// filterImages applies docker images' filters: dangling, reference,
// before, since, label.
func filterImages(st transfer.Store, infos []*transfer.ImageInfo, list []string) ([]*transfer.ImageInfo, error) {
	f, err := parseFilters(list, "dangling", "reference", "before", "since", "label")
	if err != nil {
		return nil, err
	}
	dset, dangling, err := boolFilter(f, "dangling")
	if err != nil {
		return nil, err
	}
	if dset && dangling {
		infos = withoutIntermediate(infos)
	}
	var before, since *transfer.ImageInfo
	for key, dst := range map[string]**transfer.ImageInfo{"before": &before, "since": &since} {
		if vs := f[key]; len(vs) > 0 {
			if *dst, err = transfer.LookupImage(st, vs[len(vs)-1]); err != nil {
				return nil, err
			}
		}
	}
	var out []*transfer.ImageInfo
	for _, info := range infos {
		switch {
		case dset && dangling && hasTag(info.Tags), dset && !dangling && len(info.Tags) == 0,
			before != nil && !info.Created.Before(before.Created),
			since != nil && !info.Created.After(since.Created),
			len(f["label"]) > 0 && !matchLabels(f["label"], imageLabels(info)):
			continue
		}
		if refs := f["reference"]; len(refs) > 0 {
			info = withMatchingTags(info, refs)
			if info == nil {
				continue
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// withMatchingTags keeps the tags some pattern matches; nil when none
// does (an untagged image never matches a reference filter).
func withMatchingTags(info *transfer.ImageInfo, patterns []string) *transfer.ImageInfo {
	var tags []string
	for _, t := range info.Tags {
		for _, p := range patterns {
			if familiarMatch(p, t) {
				tags = append(tags, t)
				break
			}
		}
	}
	if len(tags) == 0 {
		return nil
	}
	c := *info
	c.Tags = tags
	return &c
}
