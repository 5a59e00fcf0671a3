package overlay2

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/overlay"
	"github.com/imgtool/imgtool/store"
)

// createContainer lays out a container from image id the way dockerd's
// create does: the init layer on the image's top layer, the read-write
// layer on the init layer, layerdb/mounts/<id> and containers/<id>.
// Nothing runs. Writes happen under the caller's writer lock; the
// config.v2.json rename comes last, so a crash leaves no visible container.
func (s *Store) createContainer(id v1.Hash, opts store.CreateOptions) (*store.Container, error) {
	config, err := s.rawConfig(id)
	if err != nil {
		return nil, err
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	name, err := s.containerName(opts.Name)
	if err != nil {
		return nil, err
	}
	c := &store.Container{ID: randomID(), Name: "/" + name, Image: id, Created: time.Now().UTC(), MountID: randomID()}
	c.InitID = c.MountID + "-init"
	var parentCache string
	if len(diffIDs) > 0 {
		c.Parent = imageid.ChainIDs(diffIDs)[len(diffIDs)-1]
		top, err := s.layer(c.Parent)
		if err != nil {
			return nil, err
		}
		parentCache = top.CacheID
	}
	if err := s.createOverlayDir(c.InitID, parentCache); err != nil {
		return nil, err
	}
	if err := s.setupInitLayer(c); err != nil {
		return nil, err
	}
	if err := s.createOverlayDir(c.MountID, c.InitID); err != nil {
		return nil, err
	}
	md := filepath.Join(s.mountsDir(), c.ID)
	if err := os.MkdirAll(md, 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{"mount-id": c.MountID, "init-id": c.InitID}
	if c.Parent != (v1.Hash{}) {
		files["parent"] = c.Parent.String()
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(md, k), []byte(v), 0o644); err != nil {
			return nil, err
		}
	}
	if err := s.writeContainerConfig(c, config, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// createOverlayDir is overlay2's Create: dir, diff, link, l/ symlink, and,
// on a parent, lower, work and the parent's committed marker.
func (s *Store) createOverlayDir(id, parent string) error {
	dir := filepath.Join(s.overlayDir(), id)
	link := linkID()
	if err := os.Mkdir(dir, 0o710); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "diff"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "link"), []byte(link), 0o644); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join("..", id, "diff"), filepath.Join(s.overlayDir(), "l", link)); err != nil {
		return err
	}
	if parent == "" {
		return nil
	}
	pl, err := s.linkOf(parent)
	if err != nil {
		return err
	}
	lower := "l/" + pl
	pLower, err := s.lowerOf(parent)
	if err != nil {
		return err
	}
	if pLower != "" {
		lower += ":" + pLower
	}
	if err := os.WriteFile(filepath.Join(dir, "lower"), []byte(lower), 0o644); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.overlayDir(), parent, "committed"), nil, 0o600)
}

// setupInitLayer writes Docker's init files (daemon/initlayer) into the
// init layer's diff dir. Directories the image already has (/etc, /dev)
// are copied up with the image's metadata, as overlayfs would.
func (s *Store) setupInitLayer(c *store.Container) error {
	diff := s.diffPath(c.InitID)
	var lowers []string
	if c.Parent != (v1.Hash{}) {
		chain, err := s.chain(c.Parent)
		if err != nil {
			return err
		}
		if lowers, err = s.layerDiffDirs(chain); err != nil {
			return err
		}
	}
	for _, d := range []string{"dev", "etc"} {
		if err := copyUpDir(lowers, diff, d); err != nil {
			return err
		}
	}
	for _, d := range []string{"dev/pts", "dev/shm", "proc", "sys"} {
		if err := os.Mkdir(filepath.Join(diff, d), 0o755); err != nil && !os.IsExist(err) {
			return err
		}
	}
	for _, f := range []string{".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console"} {
		p := filepath.Join(diff, f)
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return os.Symlink("/proc/mounts", filepath.Join(diff, "etc", "mtab"))
}

// copyUpDir creates dir in upper with the metadata of its copy in the
// image (lowers, bottom first), or 0755 root when the image has none.
func copyUpDir(lowers []string, upper, dir string) error {
	if len(lowers) > 0 {
		if ok, err := overlay.CopyUpDir(lowers, upper, dir); ok || err != nil {
			return err
		}
	}
	return os.Mkdir(filepath.Join(upper, dir), 0o755)
}

// writeContainerConfig writes config.v2.json and hostconfig.json with the
// keys dockerd reads back.
func (s *Store) writeContainerConfig(c *store.Container, imageConfig []byte, opts store.CreateOptions) error {
	var img struct {
		Config map[string]any `json:"config"`
	}
	_ = json.Unmarshal(imageConfig, &img)
	cfg := img.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	cfg["Hostname"] = c.ID[:12]
	cfg["Image"] = c.Image.String()
	if len(opts.Cmd) > 0 {
		cfg["Cmd"] = opts.Cmd
	}
	path, args := entrypointArgs(cfg)
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	c.Config, c.Path, c.Args, c.Status = cfgJSON, path, args, "Created"
	doc := map[string]any{
		"StreamConfig": map[string]any{},
		"State": map[string]any{
			"Running": false, "Paused": false, "Restarting": false, "OOMKilled": false,
			"RemovalInProgress": false, "Dead": false, "Pid": 0, "ExitCode": 0, "Error": "",
			"StartedAt": "0001-01-01T00:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z", "Health": nil,
		},
		"ID": c.ID, "Created": c.Created, "Managed": false, "Path": path, "Args": args,
		"Config": json.RawMessage(cfgJSON), "Image": c.Image.String(), "NetworkSettings": nil,
		"LogPath": "", "Name": c.Name, "Driver": "overlay2", "OS": "linux", "MountLabel": "",
		"ProcessLabel": "", "RestartCount": 0, "HasBeenStartedBefore": false,
		"HasBeenManuallyStopped": false, "MountPoints": map[string]any{},
		"SecretReferences": nil, "ConfigReferences": nil, "AppArmorProfile": "",
		"HostnamePath": "", "HostsPath": "", "ShmPath": "", "ResolvConfPath": "",
		"SeccompProfile": "", "NoNewPrivileges": false,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.containersDir(), c.ID)
	if err := os.MkdirAll(dir, 0o710); err != nil {
		return err
	}
	host := []byte(`{"NetworkMode":"none","RestartPolicy":{"Name":"no","MaximumRetryCount":0},"LogConfig":{"Type":"json-file","Config":{}}}`)
	if err := s.writeFileAtomic(filepath.Join(dir, "hostconfig.json"), host, 0o644); err != nil {
		return err
	}
	return s.writeFileAtomic(filepath.Join(dir, "config.v2.json"), b, 0o600)
}

func entrypointArgs(cfg map[string]any) (string, []string) {
	var argv []string
	for _, k := range []string{"Entrypoint", "Cmd"} {
		if list, ok := cfg[k].([]any); ok {
			for _, a := range list {
				if s, ok := a.(string); ok {
					argv = append(argv, s)
				}
			}
		}
		if list, ok := cfg[k].([]string); ok {
			argv = append(argv, list...)
		}
	}
	if len(argv) == 0 {
		return "", []string{}
	}
	return argv[0], append([]string{}, argv[1:]...)
}

var (
	adjectives = []string{"agile", "bold", "brave", "calm", "clever", "eager", "fair", "gentle", "happy", "keen", "lucid", "merry", "nimble", "quiet", "sharp", "steady", "swift", "tidy", "vivid", "witty"}
	surnames   = []string{"archimedes", "babbage", "curie", "darwin", "euclid", "fermi", "galileo", "hopper", "joule", "kepler", "lovelace", "maxwell", "newton", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak"}
)

// containerName checks a requested name or draws a free random one.
func (s *Store) containerName(want string) (string, error) {
	all, err := s.listContainers()
	if err != nil {
		return "", err
	}
	taken := map[string]string{}
	for _, c := range all {
		taken[c.Name] = c.ID
	}
	if want != "" {
		if !validName(want) {
			//lint:ignore ST1005 Docker's exact message; scripts compare it
			return "", fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", want)
		}
		if id, ok := taken["/"+want]; ok {
			return "", store.Errorf(store.ErrConflict, `Conflict. The container name "/%s" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, want, id)
		}
		return want, nil
	}
	for i := 0; ; i++ {
		n := pick(adjectives) + "_" + pick(surnames)
		if i > 10 {
			n += fmt.Sprint(i)
		}
		if _, ok := taken["/"+n]; !ok {
			return n, nil
		}
	}
}

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

func validName(n string) bool {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '_' || r == '.' || r == '-'
		}
		if !ok {
			return false
		}
	}
	return n != ""
}

// removeContainer deletes a container's metadata and its init and
// read-write layers; the image stays.
func (s *Store) removeContainer(c *store.Container) error {
	if c.Running {
		return store.Errorf(store.ErrInUse, "You cannot remove a running container %s. Stop the container before attempting removal", c.ID)
	}
	dir := filepath.Join(s.containersDir(), c.ID)
	// config.v2.json goes first: once it is gone, the container is.
	if err := os.Remove(filepath.Join(dir, "config.v2.json")); err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, id := range []string{c.MountID, c.InitID} {
		if id == "" {
			continue
		}
		if err := s.removeOverlayDir(id); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(filepath.Join(s.mountsDir(), c.ID)); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
