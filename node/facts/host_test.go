package facts

import (
	"bytes"
	"testing"
)

// TestGatherHost runs against this machine; it only checks that Gather
// does not fail and prints what it saw, for -v.
func TestGatherHost(t *testing.T) {
	f := Gather(dirRoot("/").h(t), true, nil)
	var buf bytes.Buffer
	f.Table(&buf)
	t.Logf("\n%s", buf.String())
	if f.Kernel == "" || f.Arch == "" {
		t.Errorf("%+v", f)
	}
}
