package pkgmgr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type dirRoot string

func (d dirRoot) Path(p string) (string, error) { return filepath.Join(string(d), p), nil }

// call is one expected command and what it answers.
type call struct {
	argv string // space-joined
	env  []string
	out  string
	code int // non-zero: an *ExitError
}

// script is a Runner that asserts each command, in order.
func script(t *testing.T, calls ...call) Runner {
	t.Helper()
	t.Cleanup(func() {
		if len(calls) > 0 {
			t.Errorf("%d expected commands not run; next: %s", len(calls), calls[0].argv)
		}
	})
	return func(ctx context.Context, c Cmd) ([]byte, error) {
		if len(calls) == 0 {
			t.Fatalf("unexpected command %q", c.Argv)
		}
		want := calls[0]
		calls = calls[1:]
		if got := strings.Join(c.Argv, " "); got != want.argv {
			t.Errorf("argv:\n got %s\nwant %s", got, want.argv)
		}
		if !reflect.DeepEqual(c.Env, want.env) {
			t.Errorf("env %q, want %q", c.Env, want.env)
		}
		if want.code != 0 {
			return []byte(want.out), &ExitError{Argv: c.Argv, Code: want.code, Output: want.out}
		}
		return []byte(want.out), nil
	}
}

func touch(t *testing.T, root dirRoot, paths ...string) {
	for _, p := range paths {
		real, _ := root.Path(p)
		os.MkdirAll(filepath.Dir(real), 0o755)
		if err := os.WriteFile(real, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	apt := dirRoot(t.TempDir())
	touch(t, apt, "/usr/bin/apt-get", "/usr/bin/dpkg-query")
	m, err := Detect(apt)
	if err != nil || m.Name() != "apt" || m.(*Apt).Chroot != string(apt) {
		t.Errorf("apt root: %#v %v", m, err)
	}

	dnf := dirRoot(t.TempDir())
	touch(t, dnf, "/usr/bin/dnf", "/usr/bin/rpm")
	if m, err := Detect(dnf); err != nil || m.Name() != "dnf" {
		t.Errorf("dnf root: %#v %v", m, err)
	}

	if _, err := Detect(dirRoot(t.TempDir())); !errors.Is(err, ErrNoPackageManager) {
		t.Errorf("empty root: %v", err)
	}

	// The root "/" runs commands directly, without chroot.
	if m, err := Detect(dirRoot("/")); err == nil {
		if c := command(chrootOf(m), nil, "x"); c.Argv[0] != "x" {
			t.Errorf("root / chroots: %q", c.Argv)
		}
	}
}

func chrootOf(m Manager) string {
	switch m := m.(type) {
	case *Apt:
		return m.Chroot
	case *Dnf:
		return m.Chroot
	}
	return "?"
}

const aptInstall = "apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

var noninteractive = []string{"DEBIAN_FRONTEND=noninteractive"}

func TestAptInstalled(t *testing.T) {
	ctx := context.Background()
	query := "dpkg-query -W -f=${db:Status-Status}\t${Version}\n "
	a := &Apt{Run: script(t,
		call{argv: query + "containerd", out: "installed\t1.6.20~ds1-1+b1\n"},
		call{argv: query + "runc", code: 1, out: "dpkg-query: no packages found matching runc\n"},
		call{argv: query + "kubelet", out: "config-files\t1.28.0-1.1\n"},
		call{argv: query + "broken", code: 2, out: "dpkg-query: error: parsing file '/var/lib/dpkg/status'"},
	)}
	if v, ok, err := a.Installed(ctx, "containerd"); v != "1.6.20~ds1-1+b1" || !ok || err != nil {
		t.Errorf("containerd: %q %v %v", v, ok, err)
	}
	if _, ok, err := a.Installed(ctx, "runc"); ok || err != nil {
		t.Errorf("runc: %v %v", ok, err)
	}
	if _, ok, err := a.Installed(ctx, "kubelet"); ok || err != nil {
		t.Errorf("removed kubelet: %v %v", ok, err)
	}
	if _, _, err := a.Installed(ctx, "broken"); err == nil || !strings.Contains(err.Error(), "parsing file") {
		t.Errorf("dpkg error: %v", err)
	}
	if _, _, err := a.Installed(ctx, "--admindir=/x"); err == nil {
		t.Error("an option was accepted as a package name")
	}
}

func TestAptInstall(t *testing.T) {
	ctx := context.Background()
	a := &Apt{Run: script(t,
		call{argv: aptInstall + " --allow-downgrades containerd=1.6.20~ds1-1+b1", env: noninteractive},
		call{argv: aptInstall + " runc", env: noninteractive},
	)}
	if err := a.Install(ctx, "containerd", "1.6.20~ds1-1+b1"); err != nil {
		t.Error(err)
	}
	if err := a.Install(ctx, "runc", ""); err != nil {
		t.Error(err)
	}
}

func TestAptInstallUpdatesStaleLists(t *testing.T) {
	ctx := context.Background()
	a := &Apt{Chroot: "/mnt/image", Run: script(t,
		call{argv: "chroot /mnt/image " + aptInstall + " runc", env: noninteractive, code: 100, out: "E: Unable to locate package runc"},
		call{argv: "chroot /mnt/image apt-get update -q", env: noninteractive},
		call{argv: "chroot /mnt/image " + aptInstall + " runc", env: noninteractive},
	)}
	if err := a.Install(ctx, "runc", ""); err != nil {
		t.Error(err)
	}

	a = &Apt{Run: script(t,
		call{argv: aptInstall + " runc", env: noninteractive, code: 100, out: "E: Sub-process /usr/bin/dpkg returned an error code (1)"},
	)}
	err := a.Install(ctx, "runc", "")
	if err == nil || !strings.Contains(err.Error(), "install runc") || !strings.Contains(err.Error(), "exit status 100") {
		t.Errorf("failed install: %v", err)
	}
}

func TestDnf(t *testing.T) {
	ctx := context.Background()
	d := &Dnf{Run: script(t,
		call{argv: "rpm -q --qf %{VERSION}-%{RELEASE}\n containerd", out: "1.7.20-1.fc41\n"},
		call{argv: "rpm -q --qf %{VERSION}-%{RELEASE}\n runc", code: 1, out: "package runc is not installed\n"},
		call{argv: "dnf install -y -q containerd-1.7.20"},
		call{argv: "dnf install -y -q runc"},
	)}
	if v, ok, err := d.Installed(ctx, "containerd"); v != "1.7.20-1.fc41" || !ok || err != nil {
		t.Errorf("containerd: %q %v %v", v, ok, err)
	}
	if _, ok, err := d.Installed(ctx, "runc"); ok || err != nil {
		t.Errorf("runc: %v %v", ok, err)
	}
	if err := d.Install(ctx, "containerd", "1.7.20"); err != nil {
		t.Error(err)
	}
	if err := d.Install(ctx, "runc", ""); err != nil {
		t.Error(err)
	}
}

func TestVersionMatches(t *testing.T) {
	for _, tc := range []struct {
		want, have string
		ok         bool
	}{
		{"", "1.0", true},
		{"1.6.20", "1.6.20", true},
		{"1.6.20", "1.6.20~ds1-1+b1", true},
		{"1.7.20", "1.7.20-1.fc41", true},
		{"1.6.2", "1.6.20~ds1-1", false},
		{"1.6.20~ds1-1+b1", "1.6.20~ds1-1+b1", true},
		{"1.6.21", "1.6.20", false},
	} {
		if got := VersionMatches(tc.want, tc.have); got != tc.ok {
			t.Errorf("VersionMatches(%q, %q) = %v", tc.want, tc.have, got)
		}
	}
}

func TestExecRunner(t *testing.T) {
	out, err := ExecRunner(context.Background(), Cmd{Env: []string{"NODEUP_X=42"}, Argv: []string{"sh", "-c", "echo $NODEUP_X; exit 3"}})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || strings.TrimSpace(string(out)) != "42" {
		t.Errorf("out %q err %v", out, err)
	}
}
