# imgtool: build, test, interop, bench, install.
GO      ?= go
PREFIX  ?= /usr/local
BIN     := bin/imgtool

.PHONY: build test unit interop bench bench-smoke bench-deps micro-bench install demo fuzz clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/imgtool

# The whole suite: unit tests and the interop suite (which skips peers that
# are missing, unless IMGTOOL_REQUIRE_PEERS=1).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

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
	@echo "saved /tmp/imgtool-demo.tar and /tmp/imgtool-demo-rootfs.tar"

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
