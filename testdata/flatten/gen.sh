#!/bin/sh
# Regenerates the flatten corpus (testdata/flatten/*.tar, *.tree) with a
# private Docker daemon (internal/dockertest: own data root, --bridge=none,
# --iptables=false, builds and containers with --network none, nothing
# pulled; the base is the local static busybox). Needs root, dockerd,
# docker and busybox. See README.md here and interop/flatten_test.go.
set -eu
cd "$(dirname "$0")/../.."
IMGTOOL_GEN_FLATTEN_CORPUS=1 IMGTOOL_REQUIRE_PEERS=1 \
	go test -count=1 -v -run 'TestGenerateFlattenCorpus' ./interop/ "$@"
