// Package testbed boots real systemd nodes for nodeup's end-to-end tests and serves them
// the artifacts nodeup installs.
//
// A node is a fresh overlay over a cached Debian bookworm rootfs, booted with
// systemd-nspawn: systemd is PID 1, D-Bus runs and units start, but cgroup controllers
// are read-only, so runc cannot start containers there (tests/vm runs pods in a VM). Artifacts come
// from a local mirror in the upstream URL layout (docs/profile.md, "mirror") that build-mirror.sh
// builds from source and caches by version.
//
// Everything a test boots is torn down when the test ends, also when it fails, panics or
// the test process gets SIGINT or SIGTERM. A test process killed outright (SIGKILL, or
// go test's -timeout) leaves its nodes behind; the next Create reaps them.
//
// Missing prerequisites (not root, a package that cannot be installed) fail the test:
// real-node tests never skip.
package testbed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Cache is the root of the test bed's caches: built binaries, the mirror, the rootfs and
// the running nodes. NODEUP_TESTBED_CACHE overrides the default.
func Cache() string {
	if d := os.Getenv("NODEUP_TESTBED_CACHE"); d != "" {
		return d
	}
	return "/var/cache/nodeup-testbed"
}

// requireRoot fails t unless the test runs as root: booting nodes needs it.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("testbed: real-node tests must run as root (they install packages and boot "+
			"systemd-nspawn containers); uid is %d", os.Geteuid())
	}
}

// scriptPath finds one of this package's scripts. Tests run in their package directory,
// which is inside the module, so the module root is found by walking up to go.mod.
func scriptPath(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "tests", "testbed", name), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbed: no go.mod above the working directory")
		}
		dir = parent
	}
}

// runScript runs one of the test bed's scripts and fails t if it fails. Its output goes
// to stderr as it comes, so a cold build that takes minutes shows what it is doing.
func runScript(t testing.TB, name string) {
	t.Helper()
	path, err := scriptPath(name)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command("bash", path)
	cmd.Stdout = io.MultiWriter(os.Stderr, &out)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("testbed: %s failed: %v\n%s", name, err, lastBytes(out.Bytes(), 4000))
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// InstallDeps installs the host packages the test bed and the real tools need
// (install-deps.sh): a few dpkg lookups when they are there already.
func InstallDeps(t testing.TB) {
	t.Helper()
	requireRoot(t)
	runScript(t, "install-deps.sh")
}

// Rootfs returns the cached Debian rootfs every node is copied from, building it first
// if needed (about two minutes).
func Rootfs(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	runScript(t, "build-rootfs.sh")
	return filepath.Join(Cache(), "rootfs-bookworm")
}

// CloudRootfs returns a cached rootfs like Rootfs's with what a cloud image has: Debian's
// cloud-init (only the NoCloud datasource enabled), the OpenSSH server and sudo. It builds
// it first if needed (a few minutes: apt inside a container on the host's network). Pass
// it as Options.Rootfs; write a seed to /var/lib/cloud/seed/nocloud/{user-data,meta-data}
// before Start for cloud-init to run.
func CloudRootfs(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	runScript(t, "build-rootfs-cloud.sh")
	return filepath.Join(Cache(), "rootfs-bookworm-cloud")
}

// SSHRootfs returns a cached rootfs like Rootfs's with the OpenSSH server, sudo and Python
// 3: an Ansible target over SSH. It builds it first if needed (about a minute: apt inside a
// container on the host's network). The image has no SSH host keys: write one into each
// node between Create and Start (sshd starts at boot).
func SSHRootfs(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	runScript(t, "build-rootfs-ssh.sh")
	return filepath.Join(Cache(), "rootfs-bookworm-ssh")
}

// Mirror returns the artifact mirror directory: Mirror(t)+"/github.com/..." is the
// upstream URL without "https://". It runs build-mirror.sh when the manifest is missing
// or older than the script (a changed script may add artifacts); a cold build takes
// about fifteen minutes, a warm one seconds.
func Mirror(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	dir := filepath.Join(Cache(), "mirror")
	script, err := scriptPath("build-mirror.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !newer(filepath.Join(dir, "manifest.tsv"), script) {
		runScript(t, "build-mirror.sh")
	}
	return dir
}

// newer reports whether file a exists and was modified after file b.
func newer(a, b string) bool {
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && ai.ModTime().After(bi.ModTime())
}

// Artifact is one file of the mirror.
type Artifact struct {
	Component string // containerd, runc, cni, crictl, kata
	Version   string // without a leading "v"
	Arch      string
	Path      string // relative to the mirror: the upstream URL without "https://"
	File      string // absolute host path
	SHA256    string
	Size      int64
}

// Manifest lists the mirror's artifacts.
type Manifest []Artifact

// ReadManifest builds the mirror if needed and reads its manifest.tsv.
func ReadManifest(t testing.TB) Manifest {
	t.Helper()
	dir := Mirror(t)
	m, err := parseManifest(dir)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return m
}

func parseManifest(dir string) (Manifest, error) {
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m Manifest
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 {
			continue // header
		}
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 6 {
			return nil, fmt.Errorf("%s:%d: want 6 tab-separated fields, got %d", f.Name(), line, len(fields))
		}
		size, err := strconv.ParseInt(fields[5], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: size: %v", f.Name(), line, err)
		}
		m = append(m, Artifact{
			Component: fields[0], Version: fields[1], Arch: fields[2], Path: fields[3],
			File: filepath.Join(dir, fields[3]), SHA256: fields[4], Size: size,
		})
	}
	return m, sc.Err()
}

// Find returns the artifact of component at version; an empty version matches the first
// one listed (the mirror holds one version of everything but containerd).
func (m Manifest) Find(component, version string) (Artifact, bool) {
	for _, a := range m {
		if a.Component == component && (version == "" || a.Version == version) {
			return a, true
		}
	}
	return Artifact{}, false
}

// Get is Find that fails t when the artifact is missing.
func (m Manifest) Get(t testing.TB, component, version string) Artifact {
	t.Helper()
	a, ok := m.Find(component, version)
	if !ok {
		t.Fatalf("testbed: the mirror has no %s %q (see manifest.tsv)", component, version)
	}
	return a
}

// VarFile is the HCL variables file (containerd_version, containerd_sha256, runc_…, cni_…,
// crictl_…, kata_…) for the mirror's artifacts with the given containerd version.
func VarFile(t testing.TB, containerdVersion string) string {
	t.Helper()
	p := filepath.Join(Mirror(t), "vars-containerd-"+containerdVersion+".hcl")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return p
}

// CrictlPath is a crictl binary on the host: an independent CRI client to check nodes
// with (unix://NODE.Path("/run/containerd/containerd.sock") reaches a node's socket).
func CrictlPath(t testing.TB) string {
	t.Helper()
	a := ReadManifest(t).Get(t, "crictl", "")
	return filepath.Join(Cache(), "bin", "crictl-"+a.Version, "crictl")
}

// Extract unpacks a .tar.gz, .tgz or .tar.zst archive into dir on the host (creating
// dir), for tests that install artifacts without nodeup.
func Extract(t testing.TB, archive, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-xf", archive, "-C", dir}
	if strings.HasSuffix(archive, ".zst") {
		args = append(args, "--zstd")
	}
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		t.Fatalf("testbed: tar %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
