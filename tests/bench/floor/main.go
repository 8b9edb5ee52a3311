// Command floor measures the least a node bootstrap can cost, for nodeup's benchmark:
//
//	floor unpack SPEC.json   download every artifact of SPEC at once, hashing and
//	                         unpacking each while it streams, with no staging, no
//	                         fsync and no checks beyond the sha256
//	floor start              systemctl start containerd, then poll the CRI socket
//	                         every few milliseconds until Version answers
//
// Each prints how long it took in seconds; nothing else is done.
package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Artifact is one download and where its content goes.
type Artifact struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	// Format is "tar.gz", "tar.zst" or "binary".
	Format string `json:"format"`
	// Dest is the directory a tar is unpacked into, or the file a binary becomes.
	Dest string `json:"dest"`
	// Members limits a tar to these entries (names as in the archive); empty means all.
	Members []string `json:"members,omitempty"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	start := time.Now()
	var err error
	switch {
	case len(args) == 2 && args[0] == "unpack":
		err = unpackAll(args[1])
	case len(args) == 1 && args[0] == "start":
		err = startContainerd()
	default:
		return errors.New("usage: floor unpack SPEC.json | floor start")
	}
	if err != nil {
		return err
	}
	fmt.Printf("%.3f\n", time.Since(start).Seconds())
	return nil
}

func unpackAll(spec string) error {
	b, err := os.ReadFile(spec)
	if err != nil {
		return err
	}
	var arts []Artifact
	if err := json.Unmarshal(b, &arts); err != nil {
		return err
	}
	errs := make([]error, len(arts))
	var wg sync.WaitGroup
	for i, a := range arts {
		wg.Go(func() { errs[i] = unpack(a) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func unpack(a Artifact) error {
	resp, err := http.Get(a.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", a.URL, resp.Status)
	}
	h := sha256.New()
	body := io.TeeReader(resp.Body, h)
	switch a.Format {
	case "binary":
		err = writeFile(a.Dest, 0o755, body)
	case "tar.gz":
		var z *gzip.Reader
		if z, err = gzip.NewReader(body); err == nil {
			err = untar(z, a)
		}
	case "tar.zst":
		var z *zstd.Decoder
		if z, err = zstd.NewReader(body); err == nil {
			err = untar(z, a)
			z.Close()
		}
	default:
		err = fmt.Errorf("unknown format %q", a.Format)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a.URL, err)
	}
	// What the decompressor did not need still counts for the hash.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		return fmt.Errorf("%s: sha256 %s, want %s", a.URL, got, a.SHA256)
	}
	return nil
}

func untar(r io.Reader, a Artifact) error {
	want := map[string]bool{}
	for _, m := range a.Members {
		want[m] = true
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(want) > 0 && !want[hdr.Name] {
			continue
		}
		dst := filepath.Join(a.Dest, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			err = writeFile(dst, os.FileMode(hdr.Mode)&0o777, tr)
		case tar.TypeSymlink:
			_ = os.Remove(dst)
			err = os.Symlink(hdr.Linkname, dst)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(p string, mode os.FileMode, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	_ = os.Remove(p) // a running binary cannot be opened for writing
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Close())
}

func startContainerd() error {
	if out, err := exec.Command("systemctl", "start", "containerd").CombinedOutput(); err != nil {
		return fmt.Errorf("systemctl start containerd: %v: %s", err, strings.TrimSpace(string(out)))
	}
	// Reconnect within milliseconds, not grpc's default second of backoff.
	conn, err := grpc.NewClient("unix:///run/containerd/containerd.sock",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.2, MaxDelay: 20 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CRI Version: %w", err)
		}
		conn.Connect()
		time.Sleep(5 * time.Millisecond)
	}
}
