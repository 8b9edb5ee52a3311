//go:build vm

package vm

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/plan/pins"
	"github.com/nodeup/nodeup/tests/testbed"
)

// The cluster's versions: Kubernetes' binaries, and the etcd kubeadm of that
// version names (kubeadm config images list).
const (
	clusterKubernetes = "1.37.2"
	clusterEtcd       = "3.7.0"
	// clusterTime bounds the cluster's boot: two kubeadm inits and their
	// pods under emulation.
	clusterTime = 90 * time.Minute
)

var clusterDrivers = []string{"systemd", "cgroupfs"}

// TestClusterOnVM puts a real control plane on a node nodeup installs, in a
// VM with a network of its own and no way out: nodeup applies a kubeadm node
// (testdata/cluster.hcl: containerd, runc, crun, the CNI plugins, crictl, the
// kubelet in kubeadm mode, kubeadm and kubectl, and the control plane's
// images, all built from the Go module proxy and preloaded from the mirror
// disk), and guest/run-cluster.sh runs `kubeadm init` under the systemd and
// then the cgroupfs driver: the node turns Ready with nodeup's runtime label;
// nodeup's RuntimeClasses applied, the scheduler places a pod through runc
// and one through crun, which run on those handlers, with logs and exec
// working; a pod whose RuntimeClass the node lacks stays Pending,
// unschedulable; /configz has nodeup's cgroupDriver and endpoint and
// kubeadm's clientCAFile; nodeup's plan and drift metrics find nothing to
// change after kubeadm wrote its files, and a re-apply and a kubelet restart
// keep the control plane. Behind the vm build tag: make e2e-cluster.
func TestClusterOnVM(t *testing.T) {
	here, repo := prerequisites(t)
	components := []string{"kubelet", "kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	step(t, "Kubernetes "+clusterKubernetes, filepath.Join(here, "build-kube.sh"), append([]string{clusterKubernetes}, components...)...)
	step(t, "etcd "+clusterEtcd, filepath.Join(here, "build-etcd.sh"), clusterEtcd)
	bin := func(name string) string {
		return filepath.Join(testbed.Cache(), "bin", "kubernetes-"+clusterKubernetes, name)
	}

	work := t.TempDir()
	in := newInput(t, here, repo, filepath.Join(work, "in"), "run-cluster.sh", "cluster.hcl")
	in.file(t, filepath.Join(here, "testdata/bridge.conflist"), "bridge.conflist", 0o644)
	in.artifacts(t, "containerd "+proofContainerd, "crun", "cni", "crictl")
	in.seccompRunc(t)
	for _, c := range []string{pins.Kubelet, pins.Kubeadm, pins.Kubectl} {
		in.binary(t, c, clusterKubernetes, bin(c), pins.Builtin().UpstreamURL(c, clusterKubernetes, "amd64"))
	}
	in.images(t, repo, "nodeup.test/busybox:1")
	in.image(t, repo, testImage{"nodeup.test/k8s/pause:3.10.2", "pause_sha256", testImages[0].entrypoint})
	in.image(t, repo, testImage{"nodeup.test/k8s/etcd:" + clusterEtcd + "-0", "etcd_sha256", []string{"/usr/bin/etcd"}},
		filepath.Join(testbed.Cache(), "bin", "etcd-"+clusterEtcd, "etcd")+"=/usr/bin/etcd")
	for _, c := range components[3:] {
		in.image(t, repo, testImage{"nodeup.test/k8s/" + c + ":v" + clusterKubernetes, strings.ReplaceAll(c, "-", "_") + "_sha256", []string{"/usr/bin/" + c}},
			bin(c)+"=/usr/bin/"+c)
	}
	in.writeVars(t, fmt.Sprintf("PHASES=%q\n", strings.Join(clusterDrivers, " ")))

	res := bootWith(t, Boot{Input: in.dir, Work: work, Network: true, Memory: 6144}, clusterTime, "cluster", clusterChecks(clusterDrivers))
	figures := times(t, res.Log)
	for _, k := range slices.Sorted(maps.Keys(figures)) {
		t.Logf("%-36s %8.1fs", k, figures[k])
	}
}

// clusterChecks are the CHECK lines run-cluster.sh must print, all ok.
func clusterChecks(drivers []string) []string {
	var out []string
	for _, d := range drivers {
		for _, c := range []string{"apply", "kubeadm-init", "node-ready", "node-runtime-label", "runtimeclasses",
			"pod-runc-running", "pod-runc-handler", "pod-runc-logs", "pod-runc-exec",
			"pod-crun-running", "pod-crun-handler", "pod-crun-logs", "pod-crun-exec",
			"pod-kata-pending", "pod-kata-reason",
			"configz-cgroup-driver", "configz-endpoint", "configz-client-ca",
			"plan-after-kubeadm", "drift-none", "reapply", "control-plane-kept"} {
			out = append(out, c+"-"+d)
		}
	}
	return out
}
