package archive

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nodeup/nodeup/node/archive/archivetest"
)

// BenchmarkReadTarGz reads a release-sized tar.gz through (three 8 MiB
// members that compress about as well as Go binaries do): the decoder's
// share of a cold apply.
func BenchmarkReadTarGz(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ents []archivetest.Entry
	for _, name := range []string{"bin/containerd", "bin/ctr", "bin/containerd-shim-runc-v2"} {
		body := make([]byte, 8<<20)
		for i := 0; i < len(body); i += 64 {
			// Runs of a few symbols and random bytes, as machine code has.
			if rng.IntN(3) == 0 {
				for j := i; j < i+64 && j < len(body); j++ {
					body[j] = byte(rng.Uint32())
				}
			} else {
				for j := i; j < i+64 && j < len(body); j++ {
					body[j] = byte(rng.IntN(8))
				}
			}
		}
		ents = append(ents, archivetest.File(name, string(body)))
	}
	data := archivetest.Compress(b, FormatTarGz, archivetest.Tar(b, ents...))
	p := filepath.Join(b.TempDir(), "release.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		a, err := Open(p, FormatTarGz)
		if err != nil {
			b.Fatal(err)
		}
		if ms, err := a.Members(); err != nil || len(ms) != 3 {
			b.Fatalf("members %v: %v", ms, err)
		}
	}
}
