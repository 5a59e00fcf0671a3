// Package reliability holds imgtool's robustness tests, all run against
// the CLI: the hostile-input corpus of testdata/bad (corpus_test.go),
// SIGKILL at random points of load, tag, rmi, import and commit followed by
// `imgtool check` (crash_test.go), concurrent writers and readers on one
// store (concurrency_test.go), and a load into a full 8 MiB tmpfs
// (diskfull_test.go). fuzz.sh runs the go-fuzz targets of archive,
// tarball, reference and store briefly.
//
// Everything is deterministic (seeded) and bounded: the whole package runs
// in well under five minutes on two cores. Tests that need root (tmpfs
// mounts, running imgtool as uid 65534) skip without it, or fail with
// IMGTOOL_REQUIRE_PEERS=1.
//
//	go test ./reliability/
//	go test ./reliability/ -run Crash -trials 500 -seed 7
package reliability
