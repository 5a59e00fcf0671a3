package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockName is imgtool's lock file, beside repositories.json. Docker ignores
// unknown files there; its own daemon is detected separately (daemon.go).
const lockName = "imgtool.lock"

// lock takes the store lock: exclusive for writers, shared for readers, so
// that rmi never deletes a layer while save streams it.
func (s *Store) lock(exclusive bool) (unlock func(), err error) {
	path := filepath.Join(s.imageDir(), lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if !exclusive && (errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)) {
			return func() {}, nil // a reader of a store it cannot lock sees rename-atomic state anyway
		}
		return nil, fmt.Errorf("locking store: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking store: %w", err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
