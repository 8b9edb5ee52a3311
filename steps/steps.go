// Package steps holds the kinds of step a node graph is made of. A step
// says what should be true on the host (a file with these bytes, a unit
// enabled and running, an artifact installed); it knows nothing about HCL.
package steps

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Action is what one step of the graph does.
type Action interface {
	// Kind is the step kind: artifact, package, dir, file, unit, module,
	// sysctl or verify. It is the prefix of the step's ID.
	Kind() string
	// Key is the rest of the step's ID, unique within its kind.
	Key() string
	// Describe is a one-line summary for the graph's text form.
	Describe() string
}

// ID is the stable identifier of an action: "kind:key".
func ID(a Action) string { return a.Kind() + ":" + a.Key() }

// Format is the packaging of a downloaded artifact.
type Format string

// Artifact formats nodeup can unpack.
const (
	FormatBinary Format = "binary"
	FormatTarGz  Format = "tar.gz"
	FormatTarZst Format = "tar.zst"
	FormatTarXz  Format = "tar.xz"
)

// FormatOf guesses an artifact's format from its file name.
func FormatOf(name string) Format {
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return FormatTarGz
	case strings.HasSuffix(name, ".tar.zst"):
		return FormatTarZst
	case strings.HasSuffix(name, ".tar.xz"):
		return FormatTarXz
	default:
		return FormatBinary
	}
}

// Install places one member of an artifact on the node.
type Install struct {
	From string      // path inside the archive; empty for a raw binary
	To   string      // absolute path on the node
	Mode fs.FileMode // file mode on the node
}

// Tree places a whole directory of an archive on the node (kata's /opt/kata).
type Tree struct {
	From string // directory inside the archive, e.g. "opt/kata"
	To   string // absolute directory on the node
}

// Artifact downloads a release artifact, checks its sha256 while
// streaming, and installs members of it.
type Artifact struct {
	Name     string // component: containerd, runc, cni, crictl, kata, kubelet
	Version  string
	URL      string   // upstream URL
	Mirrors  []string // mirror base URLs, tried in order before URL
	Upstream bool     // whether URL itself may be tried
	SHA256   string
	Format   Format
	Files    []Install
	Trees    []Tree
}

func (a *Artifact) Kind() string { return "artifact" }
func (a *Artifact) Key() string  { return a.Name }
func (a *Artifact) Describe() string {
	return fmt.Sprintf("%s %s sha256:%.12s -> %d files, %d trees", a.Name, a.Version, a.SHA256, len(a.Files), len(a.Trees))
}

// Paths lists the node paths the artifact installs.
func (a *Artifact) Paths() []string {
	var out []string
	for _, f := range a.Files {
		out = append(out, f.To)
	}
	for _, t := range a.Trees {
		out = append(out, t.To)
	}
	return out
}

// Package installs a distribution package with apt-get or dnf.
type Package struct {
	Name    string // the package name, e.g. containerd
	Version string // empty: any version
	// Binaries are the paths the package is expected to provide.
	Binaries []string
}

func (p *Package) Kind() string { return "package" }
func (p *Package) Key() string  { return p.Name }
func (p *Package) Describe() string {
	v := p.Version
	if v == "" {
		v = "any version"
	}
	return fmt.Sprintf("%s (%s) from the distribution", p.Name, v)
}

// Dir is a directory on the node.
type Dir struct {
	Path string
	Mode fs.FileMode
}

func (d *Dir) Kind() string     { return "dir" }
func (d *Dir) Key() string      { return d.Path }
func (d *Dir) Describe() string { return fmt.Sprintf("directory %s %04o", d.Path, d.Mode) }

// File is a rendered file on the node.
type File struct {
	Path    string
	Mode    fs.FileMode
	Content []byte
}

func (f *File) Kind() string { return "file" }
func (f *File) Key() string  { return f.Path }
func (f *File) Describe() string {
	return fmt.Sprintf("file %s %04o, %d bytes", f.Path, f.Mode, len(f.Content))
}

// Unit is a systemd unit: enabled, and started when Start is set. It is
// restarted when any step in RestartOn changed in the same run.
type Unit struct {
	Name      string // e.g. containerd.service
	Path      string // unit file nodeup writes; empty for a distribution's unit
	WantedBy  []string
	Start     bool
	RestartOn []string // step IDs: binaries, unit file, config files
}

func (u *Unit) Kind() string { return "unit" }
func (u *Unit) Key() string  { return u.Name }
func (u *Unit) Describe() string {
	verb := "enabled"
	if u.Start {
		verb = "enabled and started"
	}
	return fmt.Sprintf("%s %s, restarted on change of %d steps", u.Name, verb, len(u.RestartOn))
}

// Module is a kernel module, loaded now (boot) and at every boot.
type Module struct{ Name string }

func (m *Module) Kind() string     { return "module" }
func (m *Module) Key() string      { return m.Name }
func (m *Module) Describe() string { return "kernel module " + m.Name }

// Sysctl is one kernel parameter applied now (boot) and at every boot.
type Sysctl struct{ Name, Value string }

func (s *Sysctl) Kind() string     { return "sysctl" }
func (s *Sysctl) Key() string      { return s.Name }
func (s *Sysctl) Describe() string { return s.Name + " = " + s.Value }

// Verify checks the runtime over CRI gRPC and the CNI plugins.
type Verify struct {
	Endpoint     string // unix:///run/containerd/containerd.sock
	Handlers     []string
	CgroupDriver string // expected: systemd | cgroupfs
	NetworkReady bool   // require NetworkReady
	Timeout      time.Duration
	CNIBinDir    string
	CNIPlugins   []string

	ContainerdConfig string // config.toml: read for the cgroup driver when the runtime does not report it
}

func (v *Verify) Kind() string { return "verify" }
func (v *Verify) Key() string  { return "cri" }
func (v *Verify) Describe() string {
	return fmt.Sprintf("CRI at %s: handlers %s, cgroup driver %s; %d CNI plugins", v.Endpoint, strings.Join(v.Handlers, ","), v.CgroupDriver, len(v.CNIPlugins))
}
