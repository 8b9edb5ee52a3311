package digest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDigestFormsAgree(t *testing.T) {
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := Bytes(nil); got != empty {
		t.Errorf("Bytes(nil) = %s", got)
	}
	if got, _ := Reader(strings.NewReader("abc")); got != abc {
		t.Errorf("Reader = %s", got)
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o644)
	if got, err := File(p); err != nil || got != abc {
		t.Errorf("File = %s %v", got, err)
	}
	h := New()
	h.Write([]byte("ab"))
	h.Write([]byte("c"))
	if got := Of(h); got != abc {
		t.Errorf("streamed = %s", got)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("File of a missing file did not fail")
	}
}
