package ops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/plan"
)

// A profile whose evaluation takes too long is given up, whatever makes
// it slow.
func TestProfileEvaluationBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "slow.hcl")
	os.WriteFile(p, []byte("containerd {\n  version = \"2.3.4\"\n  sandbox_image = \"x${join(\"\", [\"1e\", \"300000\"]) * 1}\"\n}\n"), 0o644)
	_, _, err := loadBounded(p, plan.Options{HostArch: "amd64"}, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), p+": evaluating the profile takes longer than 20ms") {
		t.Errorf("got %v", err)
	}
}
