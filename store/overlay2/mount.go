package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imgtool/imgtool/store"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// mount mounts the container's merged view (overlayfs: image layers and
// init layer below, the read-write layer as upper) at overlay2/<mount-id>/merged
// and returns that path. Root only, like overlay2's Get.
func (s *Store) mount(c *store.Container) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("mount needs root (an overlay mount of the container's layers)")
	}
	dir := filepath.Join(s.overlayDir(), c.MountID)
	merged := filepath.Join(dir, "merged")
	if mounted(merged) {
		return merged, nil
	}
	if err := os.MkdirAll(merged, 0o700); err != nil {
		return "", err
	}
	lower, err := s.lowerOf(c.MountID)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.ID[:12], err)
	}
	if lower == "" {
		return "", fmt.Errorf("container %s: read-write layer has no lower layers", c.ID[:12])
	}
	// Relative l/ paths from the overlay2 dir keep the options short, as dockerd does.
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, filepath.Join(c.MountID, "diff"), filepath.Join(c.MountID, "work"))
	if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil {
		opts = "index=off," + opts
	}
	if err := withDir(s.overlayDir(), func() error { return unix.Mount("overlay", merged, "overlay", 0, opts) }); err != nil {
		return "", fmt.Errorf("mounting container %s: %w", c.ID[:12], err)
	}
	return merged, nil
}

// unmount undoes Mount.
func (s *Store) unmount(c *store.Container) error {
	merged := filepath.Join(s.overlayDir(), c.MountID, "merged")
	if !mounted(merged) {
		return fmt.Errorf("container %s is not mounted", c.ID[:12])
	}
	if err := unix.Unmount(merged, 0); err != nil {
		return fmt.Errorf("unmounting %s: %w", merged, err)
	}
	return os.Remove(merged)
}

// mounted reports whether path is a mount point (moby's mountinfo reads
// /proc/self/mountinfo, unescaping paths with spaces correctly).
func mounted(path string) bool {
	m, err := mountinfo.Mounted(path)
	return err == nil && m
}

// withDir runs fn with the working directory set to dir (mount(2) resolves
// the relative lowerdir paths against it). imgtool is single-threaded here.
func withDir(dir string, fn func() error) error {
	old, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	defer os.Chdir(old)
	return fn()
}
