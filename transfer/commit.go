package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/imageconfig"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// Created is the creation time of a new image: SOURCE_DATE_EPOCH when
// set (reproducible imports), else now.
func Created() (time.Time, error) {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want seconds since 1970", v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC(), nil
}

// ImportOptions are docker import's flags, plus --config-from.
type ImportOptions struct {
	Changes    []string
	Message    string // default "Imported from " + Source
	Source     string // "-" or the URL, as docker shows it
	Platform   *v1.Platform
	ConfigFrom string // an image whose CMD/ENTRYPOINT/ENV/... start the config
	Tag        *name.Tag
	// Ctx, once done (SIGINT/SIGTERM), fails the next read of the input:
	// the transaction is then aborted and its files removed. nil: never.
	Ctx context.Context
}

// Imported is what import and commit made.
type Imported struct {
	ID     v1.Hash
	DiffID v1.Hash
	Tags   []string
}

// Import turns a rootfs tar (plain or gzip/zstd/xz/bzip2) into a
// single-layer image, as docker import does. The changes are checked
// before any byte is read, so a broken --change writes nothing.
func Import(st store.Store, r io.Reader, opts ImportOptions) (*Imported, error) {
	var base *imageconfig.ContainerConfig
	if opts.ConfigFrom != "" {
		id, err := st.Refs().Resolve(opts.ConfigFrom)
		if err != nil {
			return nil, fmt.Errorf("--config-from: %w", err)
		}
		raw, err := st.Images().Config(id)
		if err != nil {
			return nil, err
		}
		if base, err = imageconfig.ParseContainerConfig(raw); err != nil {
			return nil, fmt.Errorf("--config-from %s: %w", opts.ConfigFrom, err)
		}
	}
	if err := imageconfig.ApplyChanges(&imageconfig.ContainerConfig{}, opts.Changes); err != nil {
		return nil, err
	}
	created, err := Created()
	if err != nil {
		return nil, err
	}
	unlock, err := st.Writer()
	if err != nil {
		return nil, err
	}
	defer unlock()
	tx := st.Begin()
	defer tx.Abort()
	dr, _, err := tarball.Decompress(withCtx(opts.Ctx, r))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	// Both sides: a small compressed input may expand for a long time.
	diffID, _, err := tx.AddLayer(withCtx(opts.Ctx, dr), v1.Hash{})
	if err != nil {
		return nil, err
	}
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + opts.Source
	}
	iopts := imageconfig.ImportOptions{DiffID: diffID, Changes: opts.Changes, Comment: comment, Created: created, Base: base}
	if opts.Platform != nil {
		iopts.Platform = *opts.Platform
	}
	config, err := imageconfig.ImportConfig(iopts)
	if err != nil {
		return nil, err
	}
	return finish(st, tx, config, v1.Hash{}, diffID, opts.Tag)
}

// finish stores the config, commits the transaction and tags the image
// (a tag operation: lastUpdated is written).
func finish(st store.Store, tx store.Tx, config []byte, parent, diffID v1.Hash, tag *name.Tag) (*Imported, error) {
	id, err := tx.AddConfig(config, parent)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	res := &Imported{ID: id, DiffID: diffID}
	if tag != nil {
		trs, err := store.SetTags(st.Refs(), id, []name.Reference{*tag}, true)
		if err != nil {
			return res, err
		}
		for _, t := range trs {
			res.Tags = append(res.Tags, t.Ref)
		}
	}
	return res, nil
}

// OpenImportSource opens import's argument: "-" (stdin), an http(s) URL,
// or a file (which docker streams, so its comment says "-").
func OpenImportSource(src string, stdin io.Reader) (io.ReadCloser, string, error) {
	switch {
	case src == "-":
		return io.NopCloser(stdin), "-", nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		resp, err := http.Get(src)
		if err != nil {
			return nil, "", fmt.Errorf("downloading %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, "", fmt.Errorf("downloading %s: %s", src, resp.Status)
		}
		return resp.Body, src, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, "", err
	}
	return f, "-", nil
}

// CommitOptions are docker commit's flags.
type CommitOptions struct {
	Changes []string
	Message string
	Author  string
	Tag     *name.Tag
	Ctx     context.Context // as ImportOptions.Ctx
	// Progress, if set, counts the read-write layer's tar as it is registered.
	Progress progress.Reporter
}

// Commit turns a container's read-write layer (relative to its init
// layer: init files excluded, overlay whiteouts as .wh. entries) into a
// new image on top of the container's image, as docker commit does.
// The caller holds the writer lock (it looked the container up under it).
func Commit(st store.Store, c *store.Container, opts CommitOptions) (*Imported, error) {
	var cc imageconfig.ContainerConfig
	if len(c.Config) > 0 {
		if err := json.Unmarshal(c.Config, &cc); err != nil {
			return nil, fmt.Errorf("container %s: Config: %w", c.ID[:12], err)
		}
	}
	if err := imageconfig.ApplyChanges(cc.Clone(), opts.Changes); err != nil {
		return nil, err
	}
	var parentConfig []byte
	if c.Image != (v1.Hash{}) {
		var err error
		if parentConfig, err = st.Images().Config(c.Image); err != nil {
			return nil, err
		}
	}
	created, err := Created()
	if err != nil {
		return nil, err
	}
	tx := st.Begin()
	defer tx.Abort()
	rw, err := st.Containers().RWDir(c)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID[:12], err)
	}
	diffID, err := stageRW(opts.Ctx, tx, rw, c.Parent, opts.Progress, "container "+c.ID[:12])
	if err != nil {
		return nil, err
	}
	config, err := imageconfig.CommitConfig(imageconfig.CommitOptions{
		ParentConfig: parentConfig, ContainerConfig: &cc, Changes: opts.Changes,
		Author: opts.Author, Message: opts.Message, ContainerID: c.ID, Created: created, DiffID: diffID,
	})
	if err != nil {
		return nil, err
	}
	return finish(st, tx, config, c.Image, diffID, opts.Tag)
}

// stageRW registers the read-write dir as a layer; an unchanged container
// gives the empty tar's diff ID and no layer, which the config marks as
// an empty_layer history entry.
func stageRW(ctx context.Context, tx store.Tx, rw string, parent v1.Hash, rep progress.Reporter, task string) (v1.Hash, error) {
	entries, err := os.ReadDir(rw)
	if err != nil {
		return v1.Hash{}, err
	}
	if len(entries) == 0 {
		return v1.NewHash(imageid.EmptyTarDiffID)
	}
	rc, err := flatten.DirLayer(rw).Open()
	if err != nil {
		return v1.Hash{}, err
	}
	in := progress.ReadCloser(rc, progress.Start(rep, task, 0))
	defer in.Close()
	diffID, _, err := tx.AddLayer(withCtx(ctx, in), parent)
	in.Finish(err)
	return diffID, err
}

// withCtx makes r fail every read once ctx is done (nil: r itself).
func withCtx(ctx context.Context, r io.Reader) io.Reader {
	if ctx == nil {
		return r
	}
	return ctxReader{ctx, r}
}
