package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// SearchResult is one row of docker search.
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	IsAutomated bool   `json:"is_automated"`
}

// HubSearchURL is Docker Hub's search endpoint (docker search's default).
var HubSearchURL = "https://index.docker.io/v1/search"

// Search lists repositories matching term. With a registry host it reads
// the registry's catalog (/v2/_catalog, every page) and keeps the names
// containing term (case-insensitively; "" keeps all), sorted; registries
// have no descriptions or stars. Without one it asks Docker Hub's search
// API. limit <= 0 means 25 (docker search's default).
func Search(ctx context.Context, host, term string, limit int, opts Options) ([]SearchResult, error) {
	if limit <= 0 {
		limit = 25
	}
	if host == "" {
		return hubSearch(ctx, term, limit, opts)
	}
	reg, err := name.NewRegistry(host, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("search: invalid registry %q: %v", host, err)
	}
	ro, err := opts.remoteOptions(ctx, reg.RegistryStr())
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", host, err)
	}
	repos, err := remote.Catalog(ctx, reg, ro...)
	if err != nil {
		return nil, describe("search", host, err)
	}
	t := strings.ToLower(term)
	var out []SearchResult
	for _, r := range repos {
		if strings.Contains(strings.ToLower(r), t) {
			out = append(out, SearchResult{Name: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func hubSearch(ctx context.Context, term string, limit int, opts Options) ([]SearchResult, error) {
	if term == "" {
		return nil, fmt.Errorf("search: a search term is required for Docker Hub")
	}
	q := url.Values{"q": {term}, "n": {strconv.Itoa(limit)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, HubSearchURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	base, err := opts.baseTransport(req.URL.Host)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", term, err)
	}
	rt := transport.NewRetry(base, transport.WithRetryBackoff(opts.backoff()),
		transport.WithRetryPredicate(retryable), transport.WithRetryStatusCodes(retryStatusCodes...))
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return nil, describe("search", name.DefaultRegistry, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("search %s: Docker Hub answered %s", term, resp.Status)
	}
	var body struct {
		Results []SearchResult `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("search %s: invalid answer from Docker Hub: %v", term, err)
	}
	out := body.Results
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
