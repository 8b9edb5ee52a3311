package facts

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RunningKubelet is the pid of a kubelet running on this host, or 0. A
// running kubelet owns every pod in the CRI: within seconds it kills a pod
// it did not start, such as the one verify --pod runs.
func RunningKubelet() int {
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err != nil || strings.TrimSpace(string(b)) != "kubelet" {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(c))); err == nil {
			return pid
		}
	}
	return 0
}
