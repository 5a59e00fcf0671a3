package main

import (
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imgtool/imgtool/registry"
)

// credsKeychain is the keychain --creds USER:PASS gives every registry
// request; nil (Docker's config.json and its helpers) without it. A
// malformed value fails the first request with a line naming --creds.
func credsKeychain(creds string) authn.Keychain {
	if creds == "" {
		return nil
	}
	kc, err := registry.StaticKeychain(creds)
	if err != nil {
		return failingKeychain{err}
	}
	return kc
}

type failingKeychain struct{ err error }

func (k failingKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return nil, k.err }
