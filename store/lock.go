package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Lock takes a backend's lock file (its place is the backend's; Docker
// ignores unknown files there, and its own daemon is detected separately,
// by DaemonUsing): exclusive for writers, shared for readers, so that rmi
// never deletes a layer while save streams it.
func Lock(path string, exclusive bool) (unlock func(), err error) {
	f, err := openLock(path, exclusive)
	if err != nil {
		if !exclusive && cannotLock(err) {
			// A store on a read-only filesystem, or one this user may only
			// read, has no writer that this user could race with through
			// imgtool's lock; every store write is rename-atomic anyway.
			return func() {}, nil
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

// openLock opens the lock file. A writer creates it. A reader only needs a
// descriptor to flock, so a read-only open of an existing file is enough:
// that works on a read-only mount and for a user without write access.
func openLock(path string, exclusive bool) (*os.File, error) {
	if exclusive {
		return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// Created here so that a later writer and this reader share it.
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	}
	return f, err
}

// cannotLock reports errors that mean "this reader cannot take the lock"
// rather than "the store is broken": no store yet, no permission, a
// read-only filesystem.
func cannotLock(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
