package imageid

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestEmptyTarDiffID(t *testing.T) {
	if got := FromBytes(make([]byte, 1024)).String(); got != EmptyTarDiffID {
		t.Fatalf("sha256 of 1024 zero bytes = %s, want %s", got, EmptyTarDiffID)
	}
}

func TestChainIDs(t *testing.T) {
	a := FromBytes([]byte("a"))
	b := FromBytes([]byte("b"))
	got := ChainIDs([]v1.Hash{a, b})
	if got[0] != a {
		t.Fatalf("base chain ID %s != diff ID %s", got[0], a)
	}
	want := FromBytes([]byte(a.String() + " " + b.String()))
	if got[1] != want {
		t.Fatalf("chain ID %s, want %s", got[1], want)
	}
}
