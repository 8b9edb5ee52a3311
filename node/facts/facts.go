// Package facts reports what nodeup detects about a node: architecture,
// distribution, package manager, systemd, cgroups, /dev/kvm, and the
// containerd and runc already installed. Gathering never fails; what
// cannot be read is left empty.
//
// A root other than "/" is an image, untrusted input: nothing in it is
// run (a binary's version is the one nodeup recorded installing it), and
// every file is read through node/host, bounded and without blocking, so a
// fifo or a sparse file of gigabytes where os-release should be costs
// nothing.
package facts

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/node/pkgmgr"
	"github.com/nodeup/nodeup/node/systemd"
)

// Root is the node's filesystem: its files are read through it, within
// the root, bounded and never blocking.
type Root = *host.Host

// maxFactFile bounds each file facts reads: os-release, cgroup lists,
// hostname and hosts files are a few KiB.
const maxFactFile = 1 << 20

// readFact reads node file p for facts: a regular file of at most
// maxFactFile bytes, or nothing.
func readFact(r Root, p string) (string, bool) {
	b, err := r.ReadFileMax(p, maxFactFile)
	return string(b), err == nil
}

// Recorded returns the version nodeup recorded installing node path p,
// or "". Under a root other than "/" it is the only version facts reports.
type Recorded func(p string) string

// Facts is what Gather found.
type Facts struct {
	Arch           string    `json:"arch"`            // GOARCH nodeup runs as
	Machine        string    `json:"machine"`         // uname machine: x86_64, aarch64
	Kernel         string    `json:"kernel"`          // uname release
	Distro         Distro    `json:"distro"`          // from os-release
	PackageManager string    `json:"package_manager"` // apt, dnf or ""
	Systemd        bool      `json:"systemd"`         // systemd runs this root (only when it is "/")
	Cgroup         Cgroup    `json:"cgroup"`
	KVM            bool      `json:"kvm"` // /dev/kvm is a character device
	Containerd     *Binary   `json:"containerd"`
	Runc           *Binary   `json:"runc"`
	Preflight      Preflight `json:"preflight"`
}

// Distro is the node's os-release identity.
type Distro struct {
	ID         string `json:"id"`         // debian, ubuntu, fedora
	VersionID  string `json:"version_id"` // 12, 24.04, 41
	PrettyName string `json:"pretty_name"`
}

// Cgroup is the cgroup hierarchy the node mounts.
type Cgroup struct {
	Version     string   `json:"version"` // v2, v1, or "" when /sys/fs/cgroup is not mounted
	Controllers []string `json:"controllers"`
}

// Binary is an installed program.
type Binary struct {
	Path    string `json:"path"`    // node path
	Version string `json:"version"` // from `BIN --version`; "" if it did not say
	Error   string `json:"error,omitempty"`
	// NotRun says the binary was not run (it lies in an image): Version
	// is what nodeup recorded installing there, if anything.
	NotRun bool `json:"not_run,omitempty"`
}

// binDirs are searched in this order for containerd and runc.
func binDirs() []string {
	return []string{"/usr/local/bin", "/usr/bin", "/usr/local/sbin", "/usr/sbin"}
}

// Gather inspects the node under r. rootIsSlash says r is the running
// system, the only case where systemd can be running for it and the only
// one where its binaries are run for their version; otherwise recorded
// (which may be nil) gives the version nodeup installed.
func Gather(r Root, rootIsSlash bool, recorded Recorded) Facts {
	// However the caller spelled the root, only the machine's own "/" is
	// one whose programs nodeup runs.
	return gather(r, rootIsSlash, r.Root() == "/", recorded)
}

// gather is Gather; run says the binaries found may be run.
func gather(r Root, rootIsSlash, run bool, recorded Recorded) Facts {
	f := Facts{Arch: runtime.GOARCH}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		f.Machine = unix.ByteSliceToString(u.Machine[:])
		f.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	f.Distro = readOSRelease(r)
	if m, err := pkgmgr.Detect(r); err == nil {
		f.PackageManager = m.Name()
	}
	f.Systemd = rootIsSlash && systemd.Running("/")
	f.Cgroup = ReadCgroup(r)
	f.KVM = HasKVM(r)
	f.Containerd = findBinary(r, "containerd", run, recorded)
	f.Runc = findBinary(r, "runc", run, recorded)
	f.Preflight = GatherPreflight(r, rootIsSlash)
	return f
}

func readOSRelease(r Root) Distro {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, ok := readFact(r, p)
		if !ok {
			continue
		}
		kv := ParseOSRelease(data)
		return Distro{ID: kv["ID"], VersionID: kv["VERSION_ID"], PrettyName: kv["PRETTY_NAME"]}
	}
	return Distro{}
}

// ParseOSRelease parses os-release(5): KEY=value lines, values optionally
// quoted with shell quoting rules for ", ', \ and $.
func ParseOSRelease(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// HasKVM reports whether the node's /dev/kvm is a character device.
func HasKVM(r Root) bool {
	fi, err := r.Stat("/dev/kvm")
	return err == nil && fi.Mode()&fs.ModeCharDevice != 0
}

// ReadCgroup reads which cgroup hierarchy the node mounts and its
// controllers. Like HasKVM it only reads files, so it costs little before
// every plan and apply; Gather also runs the binaries it finds on "/".
func ReadCgroup(r Root) Cgroup {
	read := func(p string) (string, bool) { return readFact(r, p) }
	if s, ok := read("/sys/fs/cgroup/cgroup.controllers"); ok {
		return Cgroup{Version: "v2", Controllers: strings.Fields(s)}
	}
	// cgroup v1: one hierarchy per controller under /sys/fs/cgroup;
	// /proc/cgroups says which controllers are enabled.
	for _, d := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/pids"} {
		if fi, err := r.Stat(d); err == nil && fi.IsDir() {
			c := Cgroup{Version: "v1"}
			s, _ := read("/proc/cgroups")
			for _, line := range strings.Split(s, "\n") {
				f := strings.Fields(line)
				if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[3] == "1" {
					c.Controllers = append(c.Controllers, f[0])
				}
			}
			return c
		}
	}
	return Cgroup{}
}

// findBinary finds the program name in binDirs. Only on the running
// system (run) is it run for its version; in an image it is described
// from the file and recorded, never executed.
func findBinary(r Root, name string, run bool, recorded Recorded) *Binary {
	for _, dir := range binDirs() {
		nodePath := dir + "/" + name
		fi, err := r.Stat(nodePath)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		b := &Binary{Path: nodePath}
		if !run {
			b.NotRun = true
			if recorded != nil {
				b.Version = recorded(nodePath)
			}
			return b
		}
		real, err := r.Path(nodePath)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, real, "--version").Output()
		cancel()
		if err != nil {
			b.Error = fmt.Sprintf("%s --version: %v", nodePath, err)
		}
		b.Version = ParseVersion(string(out))
		return b
	}
	return nil
}

// ParseVersion returns the first version-looking token of a program's
// --version output, without a leading "v": "runc version 1.1.5" gives
// 1.1.5, "containerd github.com/containerd/containerd/v2 v2.4.2 abc" gives
// 2.4.2, Debian's "containerd containerd.io 1.6.20~ds1 ..." 1.6.20~ds1.
func ParseVersion(out string) string {
	for _, tok := range strings.Fields(out) {
		t := strings.TrimPrefix(strings.TrimRight(tok, ",;"), "v")
		if looksLikeVersion(t) {
			return t
		}
	}
	return ""
}

// looksLikeVersion: digits "." digits, then anything a version carries.
func looksLikeVersion(t string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() || i >= len(t) || t[i] != '.' {
		return false
	}
	i++
	if !digits() {
		return false
	}
	for ; i < len(t); i++ {
		c := t[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(".-+~_", c) >= 0) {
			return false
		}
	}
	return true
}

// Table writes the facts as aligned "name  value" lines.
func (f Facts) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("arch", "%s (machine %s)", f.Arch, or(f.Machine, "unknown"))
	row("kernel", "%s", or(f.Kernel, "unknown"))
	d := strings.TrimSpace(f.Distro.ID + " " + f.Distro.VersionID)
	if f.Distro.PrettyName != "" {
		d += " (" + f.Distro.PrettyName + ")"
	}
	row("distro", "%s", or(strings.TrimSpace(d), "unknown (no os-release)"))
	row("package manager", "%s", or(f.PackageManager, "none found"))
	row("systemd", "%s", map[bool]string{true: "running", false: "not running"}[f.Systemd])
	cg := "not mounted"
	if f.Cgroup.Version != "" {
		cg = f.Cgroup.Version + ": " + or(strings.Join(f.Cgroup.Controllers, " "), "no controllers")
	}
	row("cgroup", "%s", cg)
	row("kvm", "%s", map[bool]string{true: "/dev/kvm present", false: "absent"}[f.KVM])
	row("containerd", "%s", f.Containerd.String())
	row("runc", "%s", f.Runc.String())
	f.Preflight.rows(row)
	return tw.Flush()
}

func (b *Binary) String() string {
	if b == nil {
		return "not found"
	}
	s := b.Path + " " + or(b.Version, "(version unknown)")
	if b.NotRun {
		if b.Version != "" {
			s += " (recorded by nodeup; not run under --root)"
		} else {
			s += " (not run under --root, and not installed by nodeup)"
		}
	}
	if b.Error != "" {
		s += " (" + b.Error + ")"
	}
	return s
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}
