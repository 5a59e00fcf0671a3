package main

import (
	"errors"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imgtool/imgtool/registry"
)

// credsKeychain is the keychain --creds USER:PASS gives every registry
// request; nil (Docker's config.json and its helpers) without it. The
// value was checked when the flag was parsed (credsValue).
func credsKeychain(creds string) authn.Keychain {
	if creds == "" {
		return nil
	}
	kc, _ := registry.StaticKeychain(creds)
	return kc
}

// credsValue is --creds: USER:PASS, checked when the flag is parsed so a
// malformed value is a usage error before anything is read or written.
type credsValue string

func (c *credsValue) String() string { return string(*c) }
func (c *credsValue) Type() string   { return "USER:PASS" }

func (c *credsValue) Set(s string) error {
	if _, err := registry.StaticKeychain(s); err != nil {
		return errors.New("want USERNAME:PASSWORD")
	}
	*c = credsValue(s)
	return nil
}
