package main

import (
	"fmt"
	"regexp"

	"github.com/imgtool/imgtool/transfer"
)

// containerStates are the states docker's status filter accepts.
var containerStates = map[string]bool{
	"created": true, "restarting": true, "running": true, "removing": true,
	"paused": true, "exited": true, "dead": true,
}

// filterContainers applies docker ps' filters (status, name, ancestor,
// label, id); without all (-a, -n, -l or a status filter) only running
// containers are kept.
func filterContainers(st transfer.Store, cs []*transfer.Container, list []string, all bool) ([]*transfer.Container, error) {
	f, err := parseFilters(list, "status", "name", "ancestor", "label", "id")
	if err != nil {
		return nil, err
	}
	for _, s := range f["status"] {
		if !containerStates[s] {
			return nil, fmt.Errorf("Invalid filter 'status=%s'", s) //lint:ignore ST1005 docker's words
		}
		all = true
	}
	ancestors, err := ancestorIDs(st, f["ancestor"])
	if err != nil {
		return nil, err
	}
	var out []*transfer.Container
	for _, c := range cs {
		r := toPSRow(st, c, false)
		switch {
		case !all && !c.Running,
			!matchAny(f["status"], func(s string) bool { return s == containerState(r.state) }),
			!matchAny(f["name"], func(p string) bool { return regexpMatch(p, c.Name) || regexpMatch(p, c.Name[min(1, len(c.Name)):]) }),
			!matchAny(f["id"], func(p string) bool { return regexpMatch(p, c.ID) }),
			len(f["ancestor"]) > 0 && !ancestors[c.Image.String()],
			len(f["label"]) > 0 && !matchLabels(f["label"], r.labels):
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// matchAny is true when vals is empty or one value matches.
func matchAny(vals []string, match func(string) bool) bool {
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if match(v) {
			return true
		}
	}
	return false
}

// regexpMatch is the daemon's filters.Match: the value as a regular
// expression, else as a plain string.
func regexpMatch(pattern, s string) bool {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return pattern == s
	}
	return re.MatchString(s)
}

// ancestorIDs are the images the ancestor filters name and all their
// descendants (images whose parent chain reaches one of them).
func ancestorIDs(st transfer.Store, names []string) (map[string]bool, error) {
	ids := map[string]bool{}
	if len(names) == 0 {
		return ids, nil
	}
	for _, n := range names {
		if info, err := transfer.LookupImage(st, n); err == nil {
			ids[info.ID.String()] = true
		}
	}
	infos, err := transfer.ListImages(st)
	if err != nil {
		return nil, err
	}
	parent := map[string]string{}
	for _, i := range infos {
		parent[i.ID.String()] = i.Parent
	}
	for id := range parent {
		for p := parent[id]; p != "" && !ids[id]; p = parent[p] {
			if ids[p] {
				ids[id] = true
			}
		}
	}
	return ids, nil
}
