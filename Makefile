# nodeup's build, tests and demo. Everything the tests need is installed or
# built by the targets below (the test bed caches under /var/cache/nodeup-testbed).
# Pipelines fail when their first command fails (go test | filter).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO      ?= go
BIN     ?= bin/nodeup
# Versions that sort, for binaries and packages alike (see the script);
# computed once, so every target of one make run gets the same.
ifeq ($(origin VERSION), undefined)
VERSION := $(shell packaging/version.sh)
endif
MAINTAINER ?= nodeup maintainers <maintainers@nodeup.invalid>
ARCHES  ?= amd64 arm64
# Packages are built with nfpm, run through the Go module proxy.
NFPM    ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.44.1
PKGDIR  ?= bin
# Real-node tests build containerd from source when it is not cached yet.
E2E_TIMEOUT ?= 80m
# Fuzz runs are bounded by a count of inputs, not by time: Go 1.26's fuzz
# coordinator can fail a time-bounded run at its deadline with "context
# deadline exceeded" and no failing input (golang/go#75804). About 30 s each here.
FUZZ_LOAD   ?= 5000x
FUZZ_UNPACK ?= 10000x

# The VM test boots Debian under qemu (TCG) and runs pods: see README.
VM_TIMEOUT  ?= 120m
CLUSTER_TIMEOUT ?= 240m

.PHONY: build release binaries packages man test unit fuzz e2e e2e-vm e2e-cluster testbed demo bench bench-profile clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X github.com/nodeup/nodeup/cli.version=$(VERSION)" -o $(BIN) ./cmd/nodeup

# Man pages, one per command, generated from the command tree (none left
# from a command that is gone).
man:
	rm -f docs/man/*.1
	$(GO) run ./internal/mangen docs/man

# Static binaries for each architecture, their .deb and .rpm packages, and
# the checksums of all of them.
release: packages
	cd $(PKGDIR) && sha256sum $(foreach a,$(ARCHES),nodeup-linux-$(a)) *.deb *.rpm > SHA256SUMS

binaries:
	mkdir -p $(PKGDIR)
	for arch in $(ARCHES); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X github.com/nodeup/nodeup/cli.version=$(VERSION)" -o $(PKGDIR)/nodeup-linux-$$arch ./cmd/nodeup || exit 1; \
	done

# .deb and .rpm per architecture (packaging/nfpm.yaml): nodeup in /usr/bin,
# nodeup-boot.service registered by the maintainer scripts, the drift timer,
# the man pages, the example profiles, copyright and changelog.
packages: binaries man
	for arch in $(ARCHES); do \
		build=$(PKGDIR)/pkg-$$arch && rm -rf $$build && mkdir -p $$build && \
		cp $(PKGDIR)/nodeup-linux-$$arch $$build/nodeup && \
		packaging/changelog.sh '$(VERSION)' '$(MAINTAINER)' | gzip -9n > $$build/changelog.gz && \
		mkdir -p $$build/man && for page in docs/man/*.1; do gzip -9n < $$page > $$build/man/$$(basename $$page).gz || exit 1; done && \
		for packager in deb rpm; do \
			VERSION='$(VERSION)' ARCH=$$arch MAINTAINER='$(MAINTAINER)' PKGBUILD=$$build \
				$(NFPM) package --config packaging/nfpm.yaml --packager $$packager --target $(PKGDIR)/ || exit 1; \
		done; \
		rm -rf $$build; \
	done

# What CI runs: the unit tests, a bounded fuzz run, then the real-node tests.
test: unit fuzz e2e

# The packages under tests/ run nothing without NODEUP_E2E=1 (the real-node
# targets below set it), so plain go test ./... never changes the machine.
# The unit tests run with the machine read-only (as root; see the script):
# plain go test ./... changes nothing outside TMPDIR and the Go cache.
unit:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	GO=$(GO) tests/readonly-unit.sh

# go test -fuzz takes one package at a time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZ_LOAD) ./plan
	$(GO) test -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime $(FUZZ_UNPACK) ./node/archive

# The test bed: host packages, the rootfs, the artifact mirror, and for tests/vm the
# VM image (with qemu and the image tools) and the mirror's runc built with seccomp;
# the distribution registry the registry test pulls from.
testbed:
	tests/testbed/install-deps.sh
	tests/testbed/build-rootfs.sh
	tests/testbed/build-rootfs-cloud.sh
	tests/testbed/build-rootfs-ssh.sh
	tests/testbed/build-mirror.sh
	tests/testbed/build-registry.sh
	tests/vm/install-deps.sh
	tests/vm/build-image.sh
	tests/vm/build-runc.sh

# Real-node tests only: systemd nodes in containers, real containerd, runc,
# CNI plugins and crictl; cloud-init, packer, lintian and rpm check what
# nodeup emits for fleets; and the pod proof (tests/vm, TestPodProofOnVM): a VM
# under qemu where nodeup installs a node without a kubelet and verify --pod
# runs a pod under both cgroup drivers.
e2e: testbed
	NODEUP_E2E=1 $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v ./tests/... 2>&1 | tests/summarize.sh

# Pods on a real kernel with the kubelet: a VM (qemu, TCG) where nodeup installs
# containerd, runc, CNI, crictl, a standalone kubelet built from source and preloaded
# images; verify --pod; static pods under both cgroup drivers; drift; an upgrade under a
# running pod. Not part of `make test`, which runs the proof without the kubelet (see
# tests/vm/README.md).
e2e-vm: testbed
	NODEUP_E2E=1 $(GO) test -tags vm -count=1 -timeout $(VM_TIMEOUT) -run '^(TestPodsOnVM|TestCredentialProviderOnVM)$$' -v ./tests/vm/ 2>&1 | tests/summarize.sh

# A real cluster on nodeup's node: a VM where nodeup installs a kubeadm node and
# kubeadm init brings up a control plane built from the Go module proxy (with the
# kubelet, kubeadm and kubectl; cached after the first run); pods scheduled through
# nodeup's RuntimeClasses, under both cgroup drivers (tests/vm/README.md).
e2e-cluster: testbed
	NODEUP_E2E=1 $(GO) test -tags vm -count=1 -timeout $(CLUSTER_TIMEOUT) -run '^TestClusterOnVM$$' -v ./tests/vm/ 2>&1 | tests/summarize.sh

# Boots a throwaway node and shows nodeup's plan, apply and verification.
demo: build testbed
	NODEUP_E2E=1 $(GO) test -tags demo -count=1 -timeout 30m -run '^TestDemo$$' ./tests/ -v 2>&1 | grep -v '^=== RUN\|^--- PASS\|^PASS$$\|^ok[[:space:]]'

# nodeup against containerd's getting-started steps as a script and an Ansible
# playbook, on real nodes, and against the floor; prints one table (also written to
# bin/bench.txt). Not part of test: it measures, it asserts no timings.
# Each round runs every contender with the mirror on the node's loopback, then
# across the shaped network (tests/bench/README.md), and in the first
# BENCH_FLEET_RUNS rounds ten nodes at once per contender.
BENCH_RUNS       ?= 5
BENCH_FLEET_RUNS ?= 2
BENCH_TIMEOUT    ?= 90m
bench: testbed
	mkdir -p bin
	NODEUP_E2E=1 NODEUP_BENCH_RUNS=$(BENCH_RUNS) NODEUP_BENCH_FLEET_RUNS=$(BENCH_FLEET_RUNS) NODEUP_BENCH_OUT=$(CURDIR)/bin/bench.txt \
		$(GO) test -tags bench -count=1 -timeout $(BENCH_TIMEOUT) -run '^TestBench$$' -v ./tests/bench/ 2>&1 | \
		grep --line-buffered -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT)|--- PASS)|^(PASS$$|ok[[:space:]])|testbed: node |^build-(mirror|image|rootfs): '

# One cold apply, no-op re-apply and plan of nodeup on a fresh node, each with a
# CPU profile and an execution trace, summarised; the files stay in bin/profiles.
# BENCH_NETWORK=shaped fetches from the mirror across the shaped network.
BENCH_NETWORK ?= loopback
bench-profile: testbed
	mkdir -p bin/profiles
	NODEUP_E2E=1 NODEUP_BENCH_PROFILES=$(CURDIR)/bin/profiles NODEUP_BENCH_NETWORK=$(BENCH_NETWORK) \
		$(GO) test -tags bench -count=1 -timeout 30m -run '^TestProfile$$' -v ./tests/bench/ 2>&1 | \
		grep --line-buffered -v -E '^[[:space:]]*(=== (RUN|PAUSE|CONT)|--- PASS)|^(PASS$$|ok[[:space:]])|testbed: node |^build-(mirror|image|rootfs): '

# The Ansible collection (packaging/ansible): the module compiles and the example
# playbook parses; TestAnsibleFleet (make e2e) runs it on three nodes over SSH.
.PHONY: ansible-check
ansible-check:
	python3 -m py_compile packaging/ansible/ansible_collections/nodeup/node/plugins/modules/nodeup_apply.py
	cd packaging/ansible/examples && ansible-playbook --syntax-check -i inventory.ini fleet.yml

clean:
	rm -rf bin docs/man/*.1
