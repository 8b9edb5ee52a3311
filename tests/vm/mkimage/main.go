// Command mkimage writes a busybox image as an OCI image layout tar, for
// the VM tests: one layer with a static busybox and a link per applet,
// named by the io.containerd.image.name annotation, so
// `ctr -n k8s.io images import` (and nodeup's image blocks) take it as is.
//
//	mkimage -busybox /bin/busybox -name nodeup.test/busybox:1 -o busybox.tar -- /bin/sh -c 'echo hi'
//
// -add FILE=PATH (repeated) puts more files into the layer, executable: a
// control-plane image is busybox plus its static binary in /usr/bin, on the
// image's PATH, as kubeadm's static pods run it by name.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/nodeup/nodeup/node/images/imagestest"
)

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "a static busybox")
	name := flag.String("name", "", "the image's reference")
	out := flag.String("o", "", "the archive to write")
	var adds addFlag
	flag.Var(&adds, "add", "FILE=PATH: a file to put into the layer at PATH (repeated)")
	flag.Parse()
	if *name == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -busybox FILE -name REF -o FILE.tar -- ENTRYPOINT...")
		os.Exit(2)
	}
	if err := run(*busybox, *name, *out, flag.Args(), adds); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

// addFlag is -add's FILE=PATH pairs, in order.
type addFlag [][2]string

func (a *addFlag) String() string { return fmt.Sprint(*a) }

func (a *addFlag) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	to = strings.TrimPrefix(to, "/")
	if !ok || from == "" || to == "" {
		return fmt.Errorf("%q: want FILE=PATH", v)
	}
	*a = append(*a, [2]string{from, to})
	return nil
}

func run(busybox, name, out string, entrypoint []string, adds addFlag) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w", busybox, err)
	}
	files := map[string]imagestest.File{
		"bin":         {Dir: true},
		"bin/busybox": {Content: bin},
		"etc":         {Dir: true},
		"tmp":         {Dir: true, Mode: 0o1777},
		"proc":        {Dir: true},
		"sys":         {Dir: true},
		"dev":         {Dir: true},
	}
	sc := bufio.NewScanner(strings.NewReader(string(list)))
	for sc.Scan() {
		if applet := strings.TrimSpace(sc.Text()); applet != "" && applet != "busybox" && !strings.Contains(applet, "/") {
			files["bin/"+applet] = imagestest.File{Linkname: "busybox"}
		}
	}
	for _, a := range adds {
		content, err := os.ReadFile(a[0])
		if err != nil {
			return err
		}
		for d := path.Dir(a[1]); d != "."; d = path.Dir(d) {
			files[d] = imagestest.File{Dir: true}
		}
		files[a[1]] = imagestest.File{Content: content}
	}
	im := imagestest.Image{Name: name, Entrypoint: entrypoint, Files: files}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	id := im.OCI(f)
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Printf("%s %s\n", name, id)
	return nil
}
