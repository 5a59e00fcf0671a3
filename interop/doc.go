// Package interop holds the interoperability suite: imgtool against a real,
// private Docker 20.10 daemon (and skopeo). Everything is in _test.go files;
// run it with `go test ./interop/` as root. Missing peers skip the tests
// unless IMGTOOL_REQUIRE_PEERS=1 (CI), which makes them fail.
//
// The tests treat Docker as the oracle: archives that imgtool writes must
// load into dockerd with the same image ID and layers, a store that imgtool
// writes into a stopped daemon's data root must be usable by that daemon,
// and a daemon's data root must read back the way `docker images` shows it.
// They deliberately do not use imgtool's own packages to compute expected
// values.
package interop
