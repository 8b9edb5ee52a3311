package kernel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestIsRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&fs.PathError{Op: "open", Path: "/proc/sys/net/ipv4/ip_forward", Err: syscall.EROFS}, true},
		{&fs.PathError{Op: "open", Path: "/proc/sys/kernel/x", Err: syscall.EACCES}, true},
		{fmt.Errorf("set: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.EPERM}), true},
		{fmt.Errorf("load kernel module overlay: %w", ErrRefused), true},
		{classify(syscall.EROFS), true},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, false},
		{fmt.Errorf("set sysctl x: %w", ErrUnknownSysctl), false},
		{errors.New("modprobe: FATAL: Module nope not found"), false},
		{syscall.EINVAL, false},
		{nil, false},
	} {
		if got := IsRefused(tc.err); got != tc.want {
			t.Errorf("IsRefused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if err := classify(syscall.EROFS); !errors.Is(err, ErrRefused) || !errors.Is(err, syscall.EROFS) {
		t.Errorf("classify lost a class: %v", err)
	}
}

func TestSysctlPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":                "/proc/sys/net/ipv4/ip_forward",
		"net.bridge.bridge-nf-call-iptables": "/proc/sys/net/bridge/bridge-nf-call-iptables",
		"net/ipv4/conf/eth0.100/forwarding":  "/proc/sys/net/ipv4/conf/eth0.100/forwarding",
		"/kernel/pid_max":                    "/proc/sys/kernel/pid_max",
	} {
		if got, err := SysctlPath("/proc/sys", key); err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %s", key, got, err, want)
		}
	}
	for _, bad := range []string{"", "net..ipv4", "net/../../etc/passwd", "..", "."} {
		if p, err := SysctlPath("/proc/sys", bad); err == nil {
			t.Errorf("%q accepted as %s", bad, p)
		}
	}
}

func fakeKernel(t *testing.T) *Kernel {
	dir := t.TempDir()
	k := &Kernel{
		ProcSys:     filepath.Join(dir, "proc/sys"),
		ProcModules: filepath.Join(dir, "proc/modules"),
		SysModule:   filepath.Join(dir, "sys/module"),
		LibModules:  filepath.Join(dir, "lib/modules"),
		Release:     "6.1.0-test",
		Modprobe: func(ctx context.Context, args ...string) ([]byte, error) {
			t.Fatalf("modprobe %v called", args)
			return nil, nil
		},
	}
	for _, d := range []string{k.ProcSys + "/net/ipv4", k.SysModule, k.LibModules + "/" + k.Release + "/kernel"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(k.ProcModules, []byte("br_netfilter 32768 0 - Live 0x0000000000000000\nbridge 311296 1 br_netfilter, Live 0x0\n"), 0o444)
	os.WriteFile(filepath.Join(k.LibModules, k.Release, "modules.builtin"), []byte("kernel/fs/overlayfs/overlay.ko\n"), 0o644)
	return k
}

func TestSysctl(t *testing.T) {
	ctx := context.Background()
	k := fakeKernel(t)
	p := filepath.Join(k.ProcSys, "net/ipv4/ip_forward")
	os.WriteFile(p, []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(k.ProcSys, "net/ipv4/tcp_rmem"), []byte("4096\t131072\t6291456\n"), 0o644)

	if v, err := k.ReadSysctl("net.ipv4.tcp_rmem"); err != nil || v != "4096 131072 6291456" {
		t.Errorf("tcp_rmem = %q, %v", v, err)
	}
	if err := k.ApplySysctl(ctx, "net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "1" {
		t.Errorf("ip_forward file = %q", b)
	}
	// Already right: no write at all, so a read-only /proc/sys is fine.
	old := time.Unix(1_000_000_000, 0)
	os.Chtimes(p, old, old)
	if err := k.ApplySysctl(ctx, "net.ipv4.ip_forward", " 1 "); err != nil {
		t.Errorf("unchanged value: %v", err)
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
		t.Error("an unchanged sysctl was written")
	}
	err := k.ApplySysctl(ctx, "net.bridge.bridge-nf-call-iptables", "1")
	if !errors.Is(err, ErrUnknownSysctl) || IsRefused(err) {
		t.Errorf("missing key: %v", err)
	}
}

func TestModuleLoaded(t *testing.T) {
	k := fakeKernel(t)
	os.MkdirAll(filepath.Join(k.SysModule, "nf_conntrack"), 0o755)
	os.WriteFile(filepath.Join(k.SysModule, "nf_conntrack", "initstate"), []byte("live\n"), 0o444)
	os.MkdirAll(filepath.Join(k.SysModule, "vxlan", "parameters"), 0o755) // built in, with parameters
	for name, want := range map[string]bool{
		"br_netfilter": true, // /proc/modules
		"br-netfilter": true, // dashes are underscores to the kernel
		"overlay":      true, // modules.builtin
		"nf_conntrack": true, // /sys/module
		"vxlan":        true, // /sys/module
		"kvm":          false,
		"../etc":       false,
	} {
		if got := k.ModuleLoaded(name); got != want {
			t.Errorf("ModuleLoaded(%s) = %v", name, got)
		}
	}
}

// A kernel without module support (this project's CI VM kernel): what is
// built in shows only by what it provides.
func TestModuleLoadedBuiltinWithoutModuleSupport(t *testing.T) {
	k := fakeKernel(t)
	os.Remove(k.ProcModules)
	os.RemoveAll(k.LibModules)
	if k.ModuleLoaded("br_netfilter") || k.ModuleLoaded("overlay") {
		t.Fatal("loaded without evidence")
	}
	os.MkdirAll(filepath.Join(k.ProcSys, "net/bridge"), 0o755)
	os.WriteFile(filepath.Join(k.ProcSys, "net/bridge/bridge-nf-call-iptables"), []byte("1\n"), 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(k.ProcModules), "filesystems"), []byte("nodev\tsysfs\nnodev\toverlay\n\text4\n"), 0o444)
	if !k.ModuleLoaded("br_netfilter") || !k.ModuleLoaded("overlay") {
		t.Error("built-in br_netfilter/overlay not seen")
	}
	if err := k.LoadModule(context.Background(), "vxlan"); !IsRefused(err) || !strings.Contains(err.Error(), "no loadable module support") {
		t.Errorf("vxlan: %v", err)
	}
}

func TestLoadModule(t *testing.T) {
	ctx := context.Background()
	k := fakeKernel(t)
	if err := k.LoadModule(ctx, "overlay"); err != nil { // built in: no modprobe
		t.Errorf("overlay: %v", err)
	}
	if err := k.LoadModule(ctx, "-v"); err == nil {
		t.Error("an option was accepted as a module name")
	}

	var argv []string
	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		argv = args
		return nil, nil
	}
	if err := k.LoadModule(ctx, "vxlan"); err != nil || strings.Join(argv, " ") != "-- vxlan" {
		t.Errorf("vxlan: %v, argv %q", err, argv)
	}

	exit1 := &exec.ExitError{}
	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		return []byte("modprobe: FATAL: Module nope not found in directory /lib/modules/6.1.0-test\n"), exit1
	}
	if err := k.LoadModule(ctx, "nope"); err == nil || IsRefused(err) || !strings.Contains(err.Error(), "FATAL: Module nope not found") {
		t.Errorf("unknown module: %v", err)
	}

	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		return []byte("modprobe: ERROR: could not insert 'vxlan': Operation not permitted\n"), exit1
	}
	if err := k.LoadModule(ctx, "vxlan"); !IsRefused(err) {
		t.Errorf("no CAP_SYS_MODULE: %v", err)
	}

	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		return nil, &exec.Error{Name: "modprobe", Err: exec.ErrNotFound}
	}
	if err := k.LoadModule(ctx, "vxlan"); err == nil || IsRefused(err) || !strings.Contains(err.Error(), "install kmod") {
		t.Errorf("no modprobe: %v", err)
	}

	// A container without the host's /lib/modules.
	os.RemoveAll(filepath.Join(k.LibModules, k.Release))
	k.Modprobe = func(ctx context.Context, args ...string) ([]byte, error) {
		return []byte("modprobe: FATAL: Module vxlan not found in directory /lib/modules/6.1.0-test\n"), exit1
	}
	if err := k.LoadModule(ctx, "vxlan"); !IsRefused(err) {
		t.Errorf("no /lib/modules: %v", err)
	}

}

func TestLocalReadsThisKernel(t *testing.T) {
	k := Local()
	if k.Release == "" {
		t.Error("no uname release")
	}
	if _, err := k.ReadSysctl("kernel.ostype"); err != nil {
		t.Errorf("kernel.ostype: %v", err)
	}
}

func TestModuleState(t *testing.T) {
	dir := t.TempDir()
	k := &Kernel{ProcSys: dir + "/sys", ProcModules: dir + "/modules", SysModule: dir + "/sysmodule", LibModules: dir + "/lib", Release: "6.1.0-test"}
	os.WriteFile(k.ProcModules, []byte("overlay 151552 0 - Live 0x0\n"), 0o644)
	if got := k.Module("br_netfilter"); got != ModuleUnknown {
		t.Errorf("without a module directory: %s", got)
	}
	os.MkdirAll(dir+"/lib/6.1.0-test", 0o755)
	os.WriteFile(dir+"/lib/6.1.0-test/modules.dep", []byte("kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\nkernel/net/bridge/bridge.ko.xz:\n"), 0o644)
	for name, want := range map[string]ModuleState{"overlay": ModuleLoaded, "br_netfilter": ModuleAvailable, "br-netfilter": ModuleAvailable, "ip_vs": ModuleMissing} {
		if got := k.Module(name); got != want {
			t.Errorf("Module(%s) = %s, want %s", name, got, want)
		}
	}
}
