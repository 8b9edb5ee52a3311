# nodeup's build, tests and demo. Everything the tests need is installed or
# built by the targets below (the test bed caches under /var/cache/nodeup-testbed).
# Pipelines fail when their first command fails (go test | filter).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO      ?= go
BIN     ?= bin/nodeup
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Real-node tests build containerd from source when it is not cached yet.
E2E_TIMEOUT ?= 80m
FUZZTIME    ?= 30s

.PHONY: build release man test unit fuzz e2e testbed demo bench bench-profile clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/nodeup/nodeup/cli.version=$(VERSION)" -o $(BIN) ./cmd/nodeup

# Man pages, one per command, generated from the command tree.
man:
	$(GO) run ./internal/mangen docs/man

# Static binaries for both architectures, their checksums and .deb packages
# (with the man pages).
release: man
	mkdir -p bin
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X github.com/nodeup/nodeup/cli.version=$(VERSION)" -o bin/nodeup-linux-$$arch ./cmd/nodeup || exit 1; \
		rm -rf bin/deb-$$arch && mkdir -p bin/deb-$$arch/DEBIAN bin/deb-$$arch/usr/local/bin bin/deb-$$arch/lib/systemd/system bin/deb-$$arch/usr/share/man/man1; \
		cp bin/nodeup-linux-$$arch bin/deb-$$arch/usr/local/bin/nodeup; \
		for page in docs/man/*.1; do gzip -9n < $$page > bin/deb-$$arch/usr/share/man/man1/$$(basename $$page).gz; done; \
		cp packaging/nodeup-boot.service packaging/nodeup-drift.service packaging/nodeup-drift.timer bin/deb-$$arch/lib/systemd/system/; \
		printf 'Package: nodeup\nVersion: %s\nArchitecture: %s\nMaintainer: nodeup\nDescription: declarative Kubernetes node bootstrap\n' "$$(echo $(VERSION) | sed 's/^v//; s/^[^0-9]/0~&/')" $$arch > bin/deb-$$arch/DEBIAN/control; \
		dpkg-deb --root-owner-group --build bin/deb-$$arch bin/nodeup_$$arch.deb >/dev/null || exit 1; \
	done
	cd bin && sha256sum nodeup-linux-amd64 nodeup-linux-arm64 nodeup_amd64.deb nodeup_arm64.deb > SHA256SUMS

# What CI runs: the unit tests, a bounded fuzz run, then the real-node tests.
test: unit fuzz e2e

unit:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/tests')

# go test -fuzz takes one package at a time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime $(FUZZTIME) ./node/archive

testbed:
	tests/testbed/install-deps.sh
	tests/testbed/build-rootfs.sh
	tests/testbed/build-mirror.sh

# Real-node tests only: systemd nodes in containers, real containerd, runc,
# CNI plugins and crictl.
e2e: testbed
	$(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v ./tests/... 2>&1 | tests/summarize.sh

# Boots a throwaway node and shows nodeup's plan, apply and verification.
demo: build testbed
	$(GO) test -tags demo -count=1 -timeout 30m -run '^TestDemo$$' ./tests/ -v 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS$$\|^ok[[:space:]]'

# nodeup against containerd's getting-started steps as a script and an Ansible
# playbook, on real nodes, and against the floor; prints one table (also written to
# bin/bench.txt). Not part of test: it measures, it asserts no timings.
BENCH_RUNS    ?= 5
BENCH_TIMEOUT ?= 90m
bench: testbed
	mkdir -p bin
	NODEUP_BENCH_RUNS=$(BENCH_RUNS) NODEUP_BENCH_OUT=$(CURDIR)/bin/bench.txt \
		$(GO) test -tags bench -count=1 -timeout $(BENCH_TIMEOUT) -run '^TestBench$$' -v ./tests/bench/ 2>&1 | \
		grep --line-buffered -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT)|--- PASS)|^(PASS$$|ok[[:space:]])|testbed: node |^build-(mirror|image|rootfs): '

# One cold apply, no-op re-apply and plan of nodeup on a fresh node, each with a
# CPU profile and an execution trace, summarised; the files stay in bin/profiles.
bench-profile: testbed
	mkdir -p bin/profiles
	NODEUP_BENCH_PROFILES=$(CURDIR)/bin/profiles \
		$(GO) test -tags bench -count=1 -timeout 30m -run '^TestProfile$$' -v ./tests/bench/ 2>&1 | \
		grep --line-buffered -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT)|--- PASS)|^(PASS$$|ok[[:space:]])|testbed: node |^build-(mirror|image|rootfs): '

clean:
	rm -rf bin docs/man/*.1
