// Package kernel loads kernel modules and applies sysctls on the running
// kernel. Inside a container the kernel often refuses both; such errors
// satisfy IsRefused so callers can downgrade them to warnings instead of
// failing a node that is only a test bed or an image build.
package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrRefused marks an operation the kernel (or the container around
// nodeup) does not allow: read-only /proc/sys, no module directory, no
// CAP_SYS_MODULE.
var ErrRefused = errors.New("refused by the kernel (in a container?)")

// ErrUnknownSysctl is a key with no file under /proc/sys; often a module
// (br_netfilter for net.bridge.*) is not loaded.
var ErrUnknownSysctl = errors.New("no such sysctl")

// IsRefused reports whether err means the kernel refused the change, so
// the caller may warn and go on rather than fail.
func IsRefused(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// Kernel is the running kernel as seen through its pseudo-filesystems.
// Tests point the paths at a temp dir and replace Modprobe.
type Kernel struct {
	ProcSys     string // /proc/sys
	ProcModules string // /proc/modules
	SysModule   string // /sys/module
	LibModules  string // /lib/modules
	Release     string // uname -r
	// Modprobe runs modprobe with args and returns its combined output.
	Modprobe func(ctx context.Context, args ...string) ([]byte, error)
}

// Local is the kernel nodeup runs on.
func Local() *Kernel {
	return &Kernel{
		ProcSys:     "/proc/sys",
		ProcModules: "/proc/modules",
		SysModule:   "/sys/module",
		LibModules:  "/lib/modules",
		Release:     unameRelease(),
		Modprobe: func(ctx context.Context, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, "modprobe", args...).CombinedOutput()
		},
	}
}

func unameRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// validModule guards modprobe's argument: letters, digits, "_" and "-".
func validModule(name string) bool {
	if name == "" || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// canonical is the module's name as the kernel lists it: "-" becomes "_".
func canonical(name string) string { return strings.ReplaceAll(name, "-", "_") }

// ModuleLoaded reports whether the module is loaded or built in: listed
// in /proc/modules, present under /sys/module (built-in modules with
// parameters are), listed in the release's modules.builtin, or, for the
// modules the kubeadm prerequisites name, visible by what they provide
// (br_netfilter's net.bridge sysctls, overlay in /proc/filesystems).
func (k *Kernel) ModuleLoaded(name string) bool {
	if !validModule(name) {
		return false
	}
	want := canonical(name)
	if data, err := os.ReadFile(k.ProcModules); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == want {
				return true
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(k.SysModule, want)); err == nil && fi.IsDir() {
		return true
	}
	if k.Release != "" {
		if data, err := os.ReadFile(filepath.Join(k.LibModules, k.Release, "modules.builtin")); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				base := strings.TrimSuffix(filepath.Base(line), ".ko")
				if line != "" && canonical(base) == want {
					return true
				}
			}
		}
	}
	switch want {
	case "br_netfilter": // built in without parameters: no /sys/module entry
		_, err := os.Stat(filepath.Join(k.ProcSys, "net/bridge/bridge-nf-call-iptables"))
		return err == nil
	case "overlay":
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(k.ProcModules), "filesystems"))
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "overlay" {
				return true
			}
		}
	}
	return false
}

// LoadModule loads the module with modprobe unless it is already loaded
// or built in. When the kernel cannot load modules here (no module
// support, no module directory for the release as in a container, or
// modprobe not permitted) the error satisfies IsRefused.
func (k *Kernel) LoadModule(ctx context.Context, name string) error {
	if !validModule(name) {
		return fmt.Errorf("invalid kernel module name %q", name)
	}
	if k.ModuleLoaded(name) {
		return nil
	}
	if _, err := os.Stat(k.ProcModules); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("load kernel module %s: the kernel has no loadable module support (%s missing) and does not have it built in: %w", name, k.ProcModules, ErrRefused)
	}
	if k.Release != "" {
		if _, err := os.Stat(filepath.Join(k.LibModules, k.Release)); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("load kernel module %s: no %s: %w", name, filepath.Join(k.LibModules, k.Release), ErrRefused)
		}
	}
	out, err := k.Modprobe(ctx, "--", name)
	if err == nil {
		return nil
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return fmt.Errorf("load kernel module %s: modprobe not found (install kmod): %w", name, err)
	}
	msg := strings.TrimSpace(string(out))
	if msg == "" {
		msg = err.Error()
	}
	if strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "Read-only file system") {
		return fmt.Errorf("load kernel module %s: %s: %w", name, msg, ErrRefused)
	}
	return fmt.Errorf("load kernel module %s: %s", name, msg)
}

// SysctlPath maps a sysctl key to its file under procSys. Dotted keys
// use "." as separator; a key containing "/" is taken as a path, so
// dots in it stay (net/ipv4/conf/eth0.100/forwarding), as sysctl(8) does.
func SysctlPath(procSys, key string) (string, error) {
	rel := key
	if !strings.Contains(key, "/") {
		rel = strings.ReplaceAll(key, ".", "/")
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return "", fmt.Errorf("empty sysctl key")
	}
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("invalid sysctl key %q", key)
		}
	}
	return filepath.Join(procSys, rel), nil
}

// ReadSysctl returns the sysctl's value with its whitespace normalised
// ("4096\t87380" reads as "4096 87380").
func (k *Kernel) ReadSysctl(key string) (string, error) {
	p, err := SysctlPath(k.ProcSys, key)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read sysctl %s: %w", key, ErrUnknownSysctl)
		}
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return normalize(string(data)), nil
}

func normalize(v string) string { return strings.Join(strings.Fields(v), " ") }

// ApplySysctl writes the value unless the kernel already has it, so an
// unchanged sysctl never needs a writable /proc/sys. EROFS, EACCES and
// EPERM satisfy IsRefused.
func (k *Kernel) ApplySysctl(ctx context.Context, key, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, err := k.ReadSysctl(key)
	if err == nil && cur == normalize(value) {
		return nil
	}
	if errors.Is(err, ErrUnknownSysctl) {
		return fmt.Errorf("set sysctl %s: %w", key, ErrUnknownSysctl)
	}
	p, err := SysctlPath(k.ProcSys, key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("set sysctl %s: %w", key, classify(err))
	}
	_, werr := f.Write(bytes.TrimSpace([]byte(value)))
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("set sysctl %s = %s: %w", key, value, classify(werr))
	}
	return nil
}

// classify marks refusals with ErrRefused while keeping the errno.
func classify(err error) error {
	if IsRefused(err) {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}
