package store

import (
	"errors"
	"fmt"
)

// The kinds of store errors, for errors.Is. The error text stays Docker's
// own message (scripts and tests compare it); the kind is what code
// branches on, so no caller has to match message prefixes.
var (
	// ErrNotFound: no image, layer, tag or container by that name.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: an ID prefix matches more than one image or container.
	ErrAmbiguous = errors.New("ambiguous ID prefix")
	// ErrConflict: the change would break something that exists (rmi of a
	// multiply-tagged image or one with children, a taken container name).
	ErrConflict = errors.New("conflict")
	// ErrInUse: a container uses the object. It is also an ErrConflict,
	// as Docker classifies it (errdefs.Conflict).
	ErrInUse = errors.New("in use")
)

// Error is a store error: Docker's message with a kind from above.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the kind to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Kind }

// Is makes an ErrInUse error match ErrConflict as well.
func (e *Error) Is(target error) bool {
	return target == e.Kind || e.Kind == ErrInUse && target == ErrConflict
}

// Errorf formats Docker's message and tags it with kind.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
