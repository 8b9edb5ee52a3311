package facts

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPreflightOfAnImage(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("node-1\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("127.0.0.1 localhost\n# 10.0.0.9 node-1\n10.0.0.7\tnode-1.example node-1\n"), 0o644)
	p := GatherPreflight(dirRoot(root).h(t), false)
	if !p.EtcHosts || p.ResolvConf || p.Hostname != "node-1" || !slices.Equal(p.HostnameAddrs, []string{"10.0.0.7"}) {
		t.Errorf("preflight %+v", p)
	}
	swaps := filepath.Join(root, "swaps")
	os.WriteFile(swaps, []byte("Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n"), 0o644)
	if got := activeSwap(swaps); !slices.Equal(got, []string{"/dev/vda2"}) {
		t.Errorf("activeSwap = %v", got)
	}
	os.WriteFile(swaps, []byte("Filename\tType\tSize\tUsed\tPriority\n"), 0o644)
	if got := activeSwap(swaps); len(got) != 0 {
		t.Errorf("activeSwap without swap = %v", got)
	}
}
