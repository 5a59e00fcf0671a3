# imgtool: build, test, interop, bench, install.
GO      ?= go
PREFIX  ?= /usr/local
BIN     := bin/imgtool

.PHONY: build test test-deps unit interop bench bench-smoke bench-deps micro-bench install demo fuzz clean

# The commit is stamped in as well as Go's VCS stamp, which -buildvcs=false
# (or a tree without .git) leaves out.
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -trimpath -ldflags "-X main.stampedCommit=$(COMMIT)" -o $(BIN) ./cmd/imgtool

# The whole suite: unit tests and the interop suite (which skips peers that
# are missing, unless IMGTOOL_REQUIRE_PEERS=1).
# The summary lists each skipped test with its reason (go test alone prints
# skips only with -v); on a failure the full -v log is kept and named.
TEST_PKG ?= ./...
test: test-deps
	$(GO) vet $(TEST_PKG)
	@log=$$(mktemp /tmp/imgtool-test.XXXXXX); \
	$(GO) test -count=1 -timeout 60m -v $(TEST_PKG) >$$log 2>&1; rc=$$?; \
	grep -E '^(ok|FAIL|panic:|--- FAIL)' $$log; \
	skips=$$(grep -c -- '--- SKIP' $$log); \
	if [ "$$skips" -gt 0 ]; then echo "skipped ($$skips), with the reason each gave:"; \
	  awk '/^ *=== (RUN|CONT)/ {why=""} /^ +[^ =-][^ ]*\.go:[0-9]+: / {why=$$0} /^ *--- SKIP/ {sub(/^ */, ""); sub(/^ */, "", why); print "  " $$3 ": " why}' $$log; fi; \
	if [ $$rc -ne 0 ]; then echo "failed: the full log is $$log"; else rm -f $$log; fi; \
	exit $$rc

# The interop suite's peers (Debian packages). Installed when missing and
# running as root; otherwise the interop tests skip them (and say so),
# unless IMGTOOL_REQUIRE_PEERS=1.
TEST_PKGS := docker.io containerd skopeo umoci podman buildah busybox-static docker-registry apache2-utils debootstrap xz-utils bzip2 zstd time strace
TEST_CMDS := dockerd docker containerd ctr skopeo umoci podman buildah busybox docker-registry htpasswd debootstrap xz bzip2 zstd /usr/bin/time
test-deps:
	@missing=""; for c in $(TEST_CMDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing the interop suite's peers (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_PKGS) >/dev/null; \
	  else echo "not root: the interop tests will skip peers that are missing:$$missing"; fi; \
	fi
	@# crane, pinned to the go-containerregistry imgtool builds on, for the tests that compare with it
	@[ -x .bench/bin/crane ] || GOBIN=$(CURDIR)/.bench/bin $(GO) install github.com/google/go-containerregistry/cmd/crane@v0.22.1 || \
	  echo "crane could not be installed: the tests that compare with it will skip (or fail with IMGTOOL_REQUIRE_PEERS=1)"

# Unit tests: no daemons, no root, under a minute (-short skips what needs
# root or dockerd, saying so; the interop suite and `make test` run them).
unit:
	$(GO) test -short -count=1 $$($(GO) list ./... | grep -v /interop)

interop:
	IMGTOOL_REQUIRE_PEERS=$${IMGTOOL_REQUIRE_PEERS:-1} $(GO) test -count=1 -timeout 60m -v ./interop/

# Quick start: build, then load the bundled sample archive into the default
# store, list it and save it again (no Docker daemon needed).
demo: build
	./$(BIN) load -i testdata/archive/docker20.10-save.tar
	./$(BIN) images
	./$(BIN) save -o /tmp/imgtool-demo.tar arch-fix/app:2
	./$(BIN) export -o /tmp/imgtool-demo-rootfs.tar arch-fix/app:2
	@echo "wrote /tmp/imgtool-demo.tar and /tmp/imgtool-demo-rootfs.tar (rm them when done)"
	@echo "loaded into the default store: $${IMGTOOL_ROOT:-/var/lib/imgtool as root, else $${XDG_DATA_HOME:-$$HOME/.local/share}/imgtool}"
	@echo "remove the demo images with: ./$(BIN) rmi arch-fix/app:2 reg.example:5000/ns/app:latest arch-fix/base:1"

# Side-by-side numbers against docker, skopeo and crane (root, dockerd; ~30 min),
# written to docs/benchmarks.md. bench-smoke is a tiny run that keeps the harness working.
bench: bench-deps
	$(GO) run ./bench -runs 5 -out docs/benchmarks.md

bench-smoke: bench-deps
	$(GO) run ./bench -smoke

# The peers the harness measures (crane is installed by the harness itself, pinned).
bench-deps:
	@command -v dockerd >/dev/null && command -v skopeo >/dev/null && command -v debootstrap >/dev/null && \
	  command -v busybox >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends docker.io skopeo debootstrap busybox-static; }

micro-bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./tarball ./archive ./flatten ./store

# Each fuzz target briefly (FUZZTIME=1m for longer); crashers land in testdata/fuzz.
fuzz:
	FUZZTIME=$${FUZZTIME:-10s} bash reliability/fuzz.sh

install: build
	install -m 0755 $(BIN) $(PREFIX)/bin/imgtool

clean:
	rm -rf bin
