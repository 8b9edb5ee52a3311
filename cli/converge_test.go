package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodeup/nodeup/node/archive"
	"github.com/nodeup/nodeup/node/archive/archivetest"
	"github.com/nodeup/nodeup/node/cri/critest"
	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/paths"
)

// The secret of the profile's sensitive variable. It has characters JSON
// escapes and characters a unit file escapes, so a leak in any of those
// forms counts too: each starts with "s3cr3t".
const secret = `s3cr3t&<boot"strap>$x%y`

// secretInEnv is the secret's kubelet flag as the 0600 environment file
// holds it, which the drop-in names instead of the flag.
const secretInEnv = `="--hostname-override=s3cr3t&<boot\"strap>$x%y"`

// testProfile writes a profile whose artifacts are small archives built
// here and served by a test mirror, and returns its path.
func testProfile(t *testing.T) string {
	t.Helper()
	return testProfileServed(t, func(w http.ResponseWriter, _ *http.Request, b []byte) { w.Write(b) })
}

// testProfileServed is testProfile with the mirror serving each artifact
// through serve.
func testProfileServed(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, content []byte)) string {
	t.Helper()
	return testProfileOn(t, serve, false)
}

// testProfileOn is testProfileServed; with ownHosts, each artifact comes
// from a server of its own, as its upstream URL, and there is no mirror (a
// host's downloads run one after another, different hosts' at once).
func testProfileOn(t *testing.T, serve func(w http.ResponseWriter, r *http.Request, content []byte), ownHosts bool) string {
	t.Helper()
	files := map[string][]byte{}
	newServer := func() *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, ok := files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			serve(w, r, b)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	srv := newServer()
	mirror := fmt.Sprintf("urls     = [%q]\n  upstream = false", srv.URL)
	if ownHosts {
		mirror = "upstream = true"
	}
	put := func(name string, content []byte) string {
		files["/releases.example/"+name] = content
		s := sha256.Sum256(content)
		url := "https://releases.example/" + name
		if ownHosts {
			url = newServer().URL + "/releases.example/" + name
		}
		return fmt.Sprintf("url = %q\n  sha256 = %q", url, hex.EncodeToString(s[:]))
	}
	cniScript := "#!/bin/sh\necho '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}'\n"
	profile := fmt.Sprintf(`
variable "bootstrap_token" {
  sensitive = true
}

mirror {
  %s
}

node {
  cgroup_driver = "systemd"
  arch          = "amd64"
}

containerd {
  version = "2.3.4"
  %s
}

runc {
  version = "1.4.3"
  %s
}

cni {
  version = "1.9.1"
  %s
  plugins = ["bridge"]
}

runtime "runc" {
  type    = "runc"
  default = true
}

kubelet {
  version = "1.34.11"
  %s
  flags   = ["--node-labels=role=worker", "--hostname-override=${var.bootstrap_token}"]
}
`, mirror,
		put("containerd.tar.gz", tarGz(t, map[string]string{"bin/containerd": "containerd", "bin/containerd-shim-runc-v2": "shim", "bin/ctr": "ctr"})),
		put("runc.amd64", []byte("runc")),
		put("cni.tgz", tarGz(t, map[string]string{"bridge": cniScript, "loopback": cniScript})),
		put("kubelet", []byte("kubelet")))
	p := filepath.Join(t.TempDir(), "node.hcl")
	if err := os.WriteFile(p, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarGz is a .tar.gz of executable files.
func tarGz(t *testing.T, members map[string]string) []byte {
	var entries []archivetest.Entry
	for name, body := range members {
		entries = append(entries, archivetest.File(name, body))
	}
	return archivetest.Compress(t, archive.FormatTarGz, archivetest.Tar(t, entries...))
}

// environ sets the sensitive variable the way a secret store would.
var environ = []string{"NODEUP_VAR_bootstrap_token=" + secret}

// nodeup runs one command line against the root with the test's environment.
func nodeup(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runEnv(t, environ, args...)
}

func noSecret(t *testing.T, what, s string) {
	t.Helper()
	if i := strings.Index(s, "s3cr3t"); i >= 0 {
		t.Errorf("%s shows the secret (as %q):\n%s", what, s[i:min(len(s), i+40)], s)
	}
}

// A fresh root (no systemd there): plan says changes, apply makes them and
// enables the units offline, the second apply changes nothing.
func TestApplyOnATempRoot(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()

	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 2 {
		t.Fatalf("plan before apply: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "+ file:/etc/containerd/config.toml: create new file") || !strings.Contains(out, "    +++ /etc/containerd/config.toml") {
		t.Errorf("plan:\n%s", out)
	}
	noSecret(t, "plan", out+errs)
	if entries, _ := os.ReadDir(filepath.Join(root, "etc")); len(entries) != 0 {
		t.Errorf("plan wrote %v", entries)
	}

	code, out, errs = nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "apply", out+errs)
	if !strings.Contains(out, "0 failed") || strings.Contains(out, " 0 created") {
		t.Errorf("apply:\n%s", out)
	}
	for _, p := range []string{"usr/local/bin/containerd", "usr/local/sbin/runc", "opt/cni/bin/bridge", "usr/local/bin/kubelet",
		"etc/systemd/system/multi-user.target.wants/containerd.service", "etc/systemd/system/multi-user.target.wants/kubelet.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("after apply: %v", err)
		}
	}
	dropIn, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/kubelet.service.d/10-nodeup.conf"))
	if strings.Contains(string(dropIn), "s3cr3t") || !strings.Contains(string(dropIn), "EnvironmentFile="+paths.KubeletSecretFlags+"\n") {
		t.Errorf("the drop-in holds the secret, or does not read it from %s:\n%s", paths.KubeletSecretFlags, dropIn)
	}
	env, _ := os.ReadFile(filepath.Join(root, paths.KubeletSecretFlags))
	if !strings.Contains(string(env), secretInEnv) {
		t.Errorf("the environment file lacks the secret:\n%s", env)
	}
	if fi, err := os.Stat(filepath.Join(root, paths.KubeletSecretFlags)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the environment file: %v, %v; want mode 0600", fi, err)
	}
	state, err := os.ReadFile(filepath.Join(root, paths.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "state.json", string(state))
	stateInfo, _ := os.Stat(filepath.Join(root, paths.StateFile))

	code, out, errs = nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "Plan: 0 to create, 0 to update,") {
		t.Errorf("plan after apply: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	if code != 0 || !strings.Contains(out, "Apply: 0 created, 0 updated,") {
		t.Errorf("second apply: exit %d\n%s%s", code, out, errs)
	}
	if again, _ := os.Stat(filepath.Join(root, paths.StateFile)); !again.ModTime().Equal(stateInfo.ModTime()) {
		t.Errorf("the second apply rewrote %s", paths.StateFile)
	}
}

type jsonStep struct {
	ID        string `json:"id"`
	Action    string `json:"action"`
	Result    string `json:"result"`
	Sensitive bool   `json:"sensitive"`
	Reason    string `json:"reason"`
	Diff      string `json:"diff"`
	Error     string `json:"error"`
	Source    string `json:"source"`
}

type jsonRun struct {
	Steps   []jsonStep     `json:"steps"`
	Summary map[string]int `json:"summary"`
}

func parseJSON(t *testing.T, what, out string) jsonRun {
	t.Helper()
	var r jsonRun
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	if len(r.Steps) == 0 || r.Summary == nil {
		t.Fatalf("%s: no steps or summary:\n%s", what, out)
	}
	return r
}

func TestJSONOutput(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()

	// The plan of the same phase as the apply predicts it, the profile kept
	// for the boot included.
	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--json", "--detailed-exitcode")
	if code != 2 {
		t.Errorf("plan --json --detailed-exitcode with changes: exit %d\n%s", code, errs)
	}
	noSecret(t, "plan --json", out+errs)
	planned := parseJSON(t, "plan --json", out)
	byID := map[string]jsonStep{}
	for _, s := range planned.Steps {
		byID[s.ID] = s
	}
	env := byID["file:"+paths.KubeletSecretFlags]
	if env.Action != "create" || env.Diff != sensitiveContent || !env.Sensitive || !strings.HasSuffix(env.Source, "node.hcl:40") {
		t.Errorf("kubelet flags environment file step: %+v", env)
	}
	if s := byID["verify:cri"]; s.Action != "skip" {
		t.Errorf("verify step: %+v", s)
	}
	if planned.Summary["create"] == 0 || planned.Summary["failed"] != 0 {
		t.Errorf("summary %v", planned.Summary)
	}

	code, out, errs = nodeup(t, "apply", profile, "--root", root, "--phase", "bake", "--json")
	if code != 0 {
		t.Fatalf("apply --json: exit %d\n%s", code, errs)
	}
	noSecret(t, "apply --json", out+errs)
	applied := parseJSON(t, "apply --json", out)
	if applied.Summary["create"] != planned.Summary["create"] || applied.Summary["update"] != planned.Summary["update"] || applied.Summary["failed"] != 0 {
		t.Errorf("apply summary %v, plan summary %v", applied.Summary, planned.Summary)
	}
	var seconds struct{ Seconds float64 }
	json.Unmarshal([]byte(out), &seconds)
	if seconds.Seconds <= 0 {
		t.Errorf("no seconds in %s", out)
	}

	code, out, _ = nodeup(t, "apply", profile, "--root", root, "--phase", "bake", "--json")
	if again := parseJSON(t, "second apply --json", out); code != 0 || again.Summary["create"]+again.Summary["update"] != 0 {
		t.Errorf("second apply: exit %d, summary %v", code, again.Summary)
	}
	code, out, _ = nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--json", "--detailed-exitcode")
	if code != 0 {
		t.Errorf("plan --json --detailed-exitcode without changes: exit %d\n%s", code, out)
	}
}

// A failed step makes plan --json exit 1 too.
func TestPlanJSONFailedStep(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	// A file where a directory must be.
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/containerd"), []byte("not a directory"), 0o644)
	code, out, _ := nodeup(t, "plan", profile, "--root", root, "--phase", "bake", "--json")
	r := parseJSON(t, "plan --json", out)
	if code != 1 || r.Summary["failed"] == 0 {
		t.Errorf("exit %d, summary %v", code, r.Summary)
	}
}

func TestSecondApplyFailsWhileLocked(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	h, err := host.New(root)
	if err != nil {
		t.Fatal(err)
	}
	release, err := h.Lock(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	if code != 1 || !strings.Contains(errs, root+paths.LockFile) || !strings.Contains(errs, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(errs, "--wait") {
		t.Errorf("apply while locked: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(root, "usr")); err == nil {
		t.Errorf("the locked-out apply installed something")
	}

	// --wait says that it waits, and for whom, and goes on once the holder
	// releases the lock.
	r := applyWaiting(t, profile, root)
	select {
	case res := <-r.done:
		t.Fatalf("apply --wait finished while the lock was held: exit %d\n%s%s", res.code, res.out, res.err)
	default:
	}
	release()
	if res := <-r.done; res.code != 0 || !strings.Contains(res.err, fmt.Sprintf("waiting for another nodeup (pid %d) to release %s/run/nodeup.lock", os.Getpid(), root)) {
		t.Errorf("apply --wait: exit %d\n%s%s", res.code, res.out, res.err)
	}
}

type applyResult struct {
	code     int
	out, err string
}

// waitingApply is an apply --wait running in the background.
type waitingApply struct{ done chan applyResult }

// applyWaiting starts apply --wait on a locked root and returns once the
// apply says it waits for the lock: by then it has read all it reads
// before taking the lock.
func applyWaiting(t *testing.T, profile, root string) waitingApply {
	t.Helper()
	w := waitingApply{done: make(chan applyResult, 1)}
	errs := &signalWriter{match: "waiting for another nodeup", seen: make(chan struct{})}
	go func() {
		var out bytes.Buffer
		code := Run([]string{"apply", profile, "--root", root, "--phase", "bake", "--wait"}, Streams{In: strings.NewReader(""), Out: &out, Err: errs}, environ)
		w.done <- applyResult{code, out.String(), errs.String()}
	}()
	select {
	case <-errs.seen:
	case res := <-w.done:
		t.Fatalf("apply --wait did not wait: exit %d\n%s%s", res.code, res.out, res.err)
	}
	return w
}

// signalWriter keeps what is written and closes seen once it holds match.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match string
	seen  chan struct{}
	once  sync.Once
}

func (s *signalWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(b)
	if strings.Contains(s.buf.String(), s.match) {
		s.once.Do(func() { close(s.seen) })
	}
	return n, err
}

func (s *signalWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// An apply that waited for the lock sees what the holder did: it reads
// the node's state after it has the lock, so it neither reinstalls the
// holder's artifacts nor backs them up as someone else's files.
func TestApplyWaitingForTheLockReadsStateAfterIt(t *testing.T) {
	profile := testProfile(t)
	// What another nodeup will have done by the time it releases the lock.
	done := t.TempDir()
	if code, out, errs := nodeup(t, "apply", profile, "--root", done, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}

	root := t.TempDir()
	h, _ := host.New(root)
	release, err := h.Lock(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := applyWaiting(t, profile, root)
	copyTree(t, done, root)
	release()
	r := <-w.done
	if r.code != 0 || !strings.Contains(r.out, "Apply: 0 created, 0 updated,") {
		t.Errorf("apply after waiting: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if _, err := os.Stat(filepath.Join(root, paths.BackupDir)); err == nil {
		t.Errorf("the waiting apply backed up what the lock holder installed")
	}
}

// copyTree copies files, directories and symlinks from src into dst,
// except /run.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "run" {
			return filepath.SkipDir
		}
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return os.MkdirAll(to, fi.Mode().Perm())
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chtimes(to, fi.ModTime(), fi.ModTime())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Sensitive values stay out of diffs of old and new content, JSON logs
// and JSON output, in any escaping JSON applies.
func TestSensitiveValueInDiffsAndLogs(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	// A drop-in nodeup did not write, with the secret in another line.
	dropIn := filepath.Join(root, "etc/systemd/system/kubelet.service.d/10-nodeup.conf")
	os.MkdirAll(filepath.Dir(dropIn), 0o755)
	os.WriteFile(dropIn, []byte("[Service]\nEnvironment=TOKEN="+secret+"\n"), 0o644)

	code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake")
	if code != 0 || !strings.Contains(out, "    (sensitive content)\n") ||
		!strings.Contains(out, "~ file:/etc/systemd/system/kubelet.service.d/10-nodeup.conf: update content differs; nodeup did not write it: the old file is backed up under /var/lib/nodeup/backup\n") {
		t.Errorf("plan: exit %d\n%s%s", code, out, errs)
	}
	noSecret(t, "plan", out+errs)
	for _, args := range [][]string{
		{"plan", profile, "--root", root, "--phase", "bake", "--json"},
		{"apply", profile, "--root", root, "--phase", "bake", "--json", "--log-format", "json"},
	} {
		code, out, errs := nodeup(t, args...)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", args[0], code, out, errs)
		}
		parseJSON(t, args[0], out)
		noSecret(t, strings.Join(args, " "), out+errs)
		if args[0] == "apply" && !strings.Contains(errs, `"level":"info","msg":"backed up /etc/systemd/system/kubelet.service.d/10-nodeup.conf to /var/lib/nodeup/backup/etc/systemd/system/kubelet.service.d/10-nodeup.conf"`) {
			t.Errorf("apply did not log the backup:\n%s", errs)
		}
	}
	backup, _ := os.ReadFile(filepath.Join(root, paths.BackupDir, "etc/systemd/system/kubelet.service.d/10-nodeup.conf"))
	if !strings.Contains(string(backup), secret) {
		t.Errorf("backup: %q", backup)
	}
}

// serveRuntime is a containerd that answers every verify check.
func serveRuntime(t *testing.T) string {
	return critest.Serve(t, &critest.Runtime{Handlers: []string{"runc"}, CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD, NetworkReady: true})
}

// verify checks the runtime at --endpoint against the profile, and the
// CNI plugins under --root.
func TestVerifyCommand(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	endpoint := "unix://" + serveRuntime(t)

	// Before apply there is no CNI plugin to find (under --root, none is
	// run: the image is untrusted).
	code, out, errs := nodeup(t, "verify", profile, "--root", root, "--endpoint", endpoint)
	if code != 1 || !strings.Contains(out, "cni bridge") || !strings.Contains(out, "stat /opt/cni/bin/bridge: no such file or directory") {
		t.Errorf("verify before apply: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = nodeup(t, "verify", profile, "--root", root, "--endpoint", endpoint)
	for _, want := range []string{"version", "containerd v2.3.4", "runtime-ready", "handler runc", "cgroup-driver", "RuntimeConfig says systemd, want systemd", "cni bridge"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("verify after apply: exit %d\n%s%s", code, out, errs)
	}

	code, out, _ = nodeup(t, "verify", profile, "--root", root, "--endpoint", endpoint, "--json")
	var report struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != 0 || !report.OK || len(report.Checks) < 6 {
		t.Errorf("verify --json: exit %d, %v\n%s", code, err, out)
	}

	// Without a profile: the defaults, no handlers to check; a socket that
	// is not there fails within --timeout, naming it.
	if code, out, errs := nodeup(t, "verify", "--endpoint", endpoint); code != 0 {
		t.Errorf("verify without a profile: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = nodeup(t, "verify", "--endpoint", "unix://"+filepath.Join(root, "missing.sock"), "--timeout", "300ms")
	if code != 1 || !strings.Contains(errs, "missing.sock did not appear within") {
		t.Errorf("verify of a missing socket: exit %d\n%s", code, errs)
	}
}

func TestFactsCommand(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), 0o644)
	code, out, errs := nodeup(t, "facts", "--root", root, "--json")
	var f struct {
		Arch    string `json:"arch"`
		Systemd bool   `json:"systemd"`
		Distro  struct {
			ID        string `json:"id"`
			VersionID string `json:"version_id"`
		} `json:"distro"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil || code != 0 {
		t.Fatalf("facts --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if f.Distro.ID != "debian" || f.Distro.VersionID != "12" || f.Systemd || f.Arch == "" {
		t.Errorf("facts of the root: %+v", f)
	}
	if code, out, _ := nodeup(t, "facts", "--root", root); code != 0 || !strings.Contains(out, "Debian GNU/Linux 12") {
		t.Errorf("facts: exit %d\n%s", code, out)
	}
}

// An apply that should start and verify where no systemd runs fails and
// writes nothing; only --phase bake leaves starting and verifying to the
// boot.
func TestApplyWithoutSystemdNeedsPhaseBake(t *testing.T) {
	profile := testProfile(t)
	for _, phase := range []string{"all", "boot"} {
		root := t.TempDir()
		code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", phase, "--var", "bootstrap_token=x")
		if code != 1 || !strings.Contains(errs, "use --phase bake") || !strings.Contains(errs, "systemd is not running under --root "+root) {
			t.Errorf("--phase %s: exit %d\nstdout:\n%s\nstderr:\n%s", phase, code, out, errs)
		}
		if entries, _ := os.ReadDir(root); len(entries) != 0 {
			t.Errorf("--phase %s: the refused apply wrote %v under the root", phase, entries)
		}
	}
}

// A Windows profile renders, but plan and apply refuse it at node.os.
func TestWindowsProfileIsRenderOnly(t *testing.T) {
	profile := "../plan/testdata/cases/windows/profile.hcl"
	for _, cmd := range []string{"plan", "apply"} {
		code, out, errs := nodeup(t, cmd, profile, "--root", t.TempDir(), "--phase", "bake")
		if code != 1 || !strings.Contains(errs, "render-only") || !strings.Contains(errs, "profile.hcl:") || !strings.Contains(errs, "nodeup render") {
			t.Errorf("%s of a Windows profile: exit %d\n%s%s", cmd, code, out, errs)
		}
	}
	if code, _, errs := nodeup(t, "render", profile, "--out", t.TempDir()); code != 0 {
		t.Errorf("render of a Windows profile: exit %d\n%s", code, errs)
	}
}

// Symlinks below the first level of the root lead nodeup's own files
// (state, backups, download cache) nowhere outside the root.
func TestApplyKeepsItsFilesInsideTheRoot(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	elsewhere := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib"), 0o755)
	os.Symlink(filepath.Join(elsewhere, "lib"), filepath.Join(root, "var/lib/nodeup"))
	os.MkdirAll(filepath.Join(root, "etc/containerd"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/containerd/config.toml"), []byte("distro config\n"), 0o644)
	if code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, p := range []string{"lib/state.json", "lib/backup/etc/containerd/config.toml"} {
		if _, err := os.Stat(filepath.Join(root, elsewhere, p)); err != nil {
			t.Errorf("%s is not where the link leads inside the root: %v", p, err)
		}
	}

	// A link in the cache is refused, with what to do.
	root = t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/cache/nodeup"), 0o755)
	os.Symlink(elsewhere, filepath.Join(root, "var/cache/nodeup/sha256"))
	code, out, errs := nodeup(t, "apply", profile, "--root", root, "--phase", "bake")
	want := "cache directory " + filepath.Join(root, "var/cache/nodeup/sha256") + " is a symlink or not a directory; nodeup follows no link inside its cache: remove it and run nodeup again"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, out, errs)
	}
	if es, _ := os.ReadDir(elsewhere); len(es) != 0 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("written outside the root: %v", names)
	}
}

// A fifo where the state belongs is refused at once: plan and apply do not
// wait for a writer that never comes.
func TestFifoStateRefused(t *testing.T) {
	profile := testProfile(t)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/nodeup"), 0o755)
	if err := unix.Mkfifo(filepath.Join(root, "var/lib/nodeup/state.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := nodeup(t, "plan", profile, "--root", root, "--phase", "bake")
		done <- result{code, out, errs}
	}()
	select {
	case r := <-done:
		want := "read /var/lib/nodeup/state.json: not a regular file: it is a fifo; move it away"
		if r.code != 1 || !strings.Contains(r.errs, want) {
			t.Errorf("exit %d, want 1 and %q:\n%s%s", r.code, want, r.out, r.errs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("plan blocked on a fifo state.json")
	}
}
