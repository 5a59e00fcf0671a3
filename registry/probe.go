package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Requests of a push that ggcr has no API for: blob existence probes and
// cross-repository mounts, on an authenticated client with retries.

func (s *session) httpClient() (*http.Client, error) {
	s.clientOnce.Do(func() {
		scopes := []string{s.repo.Scope(transport.PushScope)}
		for r := range s.mounts {
			if repo, err := name.NewRepository(r, s.opts.nameOptions()...); err == nil {
				scopes = append(scopes, repo.Scope(transport.PullScope))
			}
		}
		tr, err := s.opts.authTransport(s.ctx, s.repo, scopes)
		if err != nil {
			s.clientErr = err
			return
		}
		s.client = &http.Client{Transport: tr}
	})
	return s.client, s.clientErr
}

func (s *session) blobURL(p string) string {
	u := url.URL{Scheme: s.repo.Scheme(), Host: s.repo.RegistryStr(), Path: p}
	return u.String()
}

// headBlob reports whether the repository has the blob, and its size.
func (s *session) headBlob(ctx context.Context, d v1.Hash) (bool, int64, error) {
	c, err := s.httpClient()
	if err != nil {
		return false, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.blobURL(fmt.Sprintf("/v2/%s/blobs/%s", s.repo.RepositoryStr(), d)), nil)
	if err != nil {
		return false, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK, http.StatusNotFound); err != nil {
		return false, 0, err
	}
	return resp.StatusCode == http.StatusOK, resp.ContentLength, nil
}

// mountBlob asks the registry to mount d from another repository; false
// when it declined (the upload session it opened instead is cancelled).
func (s *session) mountBlob(ctx context.Context, d v1.Hash, from string) (bool, error) {
	src, err := name.NewRepository(from, s.opts.nameOptions()...)
	if err != nil {
		return false, nil
	}
	c, err := s.httpClient()
	if err != nil {
		return false, err
	}
	q := url.Values{"mount": {d.String()}, "from": {src.RepositoryStr()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.blobURL(fmt.Sprintf("/v2/%s/blobs/uploads/", s.repo.RepositoryStr()))+"?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusAccepted:
		if loc := resp.Header.Get("Location"); loc != "" {
			if u, err := resp.Request.URL.Parse(loc); err == nil && u.Host == resp.Request.URL.Host {
				if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil); err == nil {
					if r, err := c.Do(del); err == nil {
						r.Body.Close()
					}
				}
			}
		}
		return false, nil
	}
	return false, nil // a refused mount only costs an upload
}

// rawManifest is a manifest to PUT as is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// staticBlob is a small in-memory blob (a config).
type staticBlob struct {
	raw    []byte
	mt     types.MediaType
	digest v1.Hash
}

func (b *staticBlob) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b *staticBlob) DiffID() (v1.Hash, error)            { return b.digest, nil }
func (b *staticBlob) Size() (int64, error)                { return int64(len(b.raw)), nil }
func (b *staticBlob) MediaType() (types.MediaType, error) { return b.mt, nil }
func (b *staticBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b.raw)), nil
}
func (b *staticBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }
