package store

import (
	"errors"
	"testing"
)

func TestErrorKinds(t *testing.T) {
	err := Errorf(ErrInUse, "conflict: unable to delete %s", "abc")
	if err.Error() != "conflict: unable to delete abc" {
		t.Fatalf("message changed: %q", err)
	}
	if !errors.Is(err, ErrInUse) || !errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		t.Fatalf("kinds of %v wrong", err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Kind != ErrInUse {
		t.Fatalf("errors.As: %v", se)
	}
}
