// Package vm boots throwaway Debian VMs under qemu (TCG: this machine has no
// usable KVM) for the tests that need a real kernel: running pods needs
// cgroup controllers a systemd-nspawn node cannot have. The VM image is built
// once and cached (build-image.sh); each boot gets a copy-on-write overlay of
// it, an input disk with everything the test needs (no network), and a
// results disk the guest writes its log and exit status to. A unit baked into
// the image runs the input disk's run.sh and powers the VM off.
package vm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodeup/nodeup/tests/testbed"
)

// Image is the cached VM image: a raw ext4 root disk and its kernel.
type Image struct {
	Disk, Kernel, Initrd string
}

// CachedImage is the image build-image.sh leaves in the cache.
func CachedImage() Image {
	// The name carries the image's revision (build-image.sh's OUT).
	d := filepath.Join(testbed.Cache(), "vm", "bookworm-2")
	return Image{Disk: filepath.Join(d, "disk.img"), Kernel: filepath.Join(d, "vmlinuz"), Initrd: filepath.Join(d, "initrd.img")}
}

// Boot is one run of a VM.
type Boot struct {
	Image Image
	// Input is a directory laid out on the input disk; its run.sh runs.
	Input string
	// Work is a scratch directory for the disks and the console log.
	Work string
	// Memory in MiB and CPUs of the VM.
	Memory, CPUs int
	// Console receives the VM's serial console as it runs.
	Console io.Writer
	// Again boots the root disk an earlier Run left in Work (what that boot
	// wrote is there), rather than a fresh overlay of the image: a second
	// boot of the same machine.
	Again bool
	// Network gives the VM a NIC on qemu's user network with no way out
	// (restrict=on): the guest at 10.0.2.15, the host side at 10.0.2.2.
	Network bool
}

// Result is what a boot brought back.
type Result struct {
	Status  int    // run.sh's exit status; -1 when it did not record one
	Log     string // run.sh's output
	Journal string // the guest's journal of the boot
	Elapsed time.Duration
}

// Run builds the disks, boots the VM until it powers off (or ctx ends, which
// kills qemu), and reads the results disk. The disks stay in Work for a
// look after a failure; removing Work cleans up.
func (b Boot) Run(ctx context.Context) (Result, error) {
	res := Result{Status: -1}
	overlay := filepath.Join(b.Work, "root.qcow2")
	in := filepath.Join(b.Work, "in.img")
	out := filepath.Join(b.Work, "out.img")
	if err := os.MkdirAll(b.Work, 0o755); err != nil {
		return res, err
	}
	if !b.Again {
		if err := run(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", b.Image.Disk, overlay); err != nil {
			return res, err
		}
	} else if _, err := os.Stat(overlay); err != nil {
		return res, fmt.Errorf("booting again: no earlier boot's disk: %w", err)
	}
	size, err := dirSize(b.Input)
	if err != nil {
		return res, err
	}
	// ext4's own metadata and the inode tables need room beside the files.
	if err := mkfs(ctx, in, "nodeup-in", size+size/4+64<<20, b.Input); err != nil {
		return res, err
	}
	if err := mkfs(ctx, out, "nodeup-out", 64<<20, ""); err != nil {
		return res, err
	}
	memory, cpus := b.Memory, b.CPUs
	if memory == 0 {
		memory = 3072
	}
	if cpus == 0 {
		cpus = 2
	}
	nic := "none"
	if b.Network {
		nic = "user,model=virtio-net-pci,restrict=on,ipv6=off"
	}
	args := []string{
		"-accel", "tcg", "-machine", "q35", "-cpu", "max", "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(memory),
		"-nographic", "-no-reboot", "-nic", nic, "-serial", "stdio", "-monitor", "none",
		"-kernel", b.Image.Kernel, "-initrd", b.Image.Initrd,
		"-append", "root=/dev/vda rw console=ttyS0 loglevel=4 panic=-1 systemd.show_status=error",
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		"-drive", "file=" + in + ",if=virtio,format=raw,readonly=on",
		"-drive", "file=" + out + ",if=virtio,format=raw",
	}
	console, err := os.Create(filepath.Join(b.Work, "console.log"))
	if err != nil {
		return res, err
	}
	defer console.Close()
	var w io.Writer = console
	if b.Console != nil {
		w = io.MultiWriter(console, b.Console)
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		return res, fmt.Errorf("the VM did not power off within the test's time (%s): %w; its console is in %s", res.Elapsed.Round(time.Second), ctx.Err(), console.Name())
	}
	if runErr != nil {
		return res, fmt.Errorf("qemu: %w; its console is in %s", runErr, console.Name())
	}
	res.Log, _ = readExt4(ctx, out, "/log")
	res.Journal, _ = readExt4(ctx, out, "/journal")
	status, err := readExt4(ctx, out, "/status")
	if err != nil {
		return res, fmt.Errorf("the guest recorded no exit status (%v); its console is in %s", err, console.Name())
	}
	if res.Status, err = strconv.Atoi(strings.TrimSpace(status)); err != nil {
		return res, fmt.Errorf("the guest's status file holds %q", status)
	}
	return res, nil
}

// mkfs makes an ext4 image of size bytes, filled from dir when given.
func mkfs(ctx context.Context, img, label string, size int64, dir string) error {
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	args := []string{"-q", "-F", "-L", label, "-E", "root_owner=0:0"}
	if dir != "" {
		args = append(args, "-d", dir)
	}
	return run(ctx, "mkfs.ext4", append(args, img)...)
}

// readExt4 reads a file of an ext4 image without mounting it.
func readExt4(ctx context.Context, img, path string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "debugfs", "-R", "cat "+path, img)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("debugfs cat %s: %v: %s", path, err, errb.String())
	}
	// debugfs reports a missing file on stderr and exits 0.
	if strings.Contains(errb.String(), "File not found") {
		return "", fmt.Errorf("%s: not on the results disk", path)
	}
	return out.String(), nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			n += fi.Size() + 4096
		}
		return err
	})
	return n, err
}

func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
