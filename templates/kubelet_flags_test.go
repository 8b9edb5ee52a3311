package templates

import "testing"

func TestKubeletFlagErrors(t *testing.T) {
	unknown, deprecated := KubeletFlagErrors([]string{
		"--node-labels=a=b", "--v=2", "--config-dir=/etc/kubernetes/kubelet.conf.d",
		"--bootstrap-token=x", "--max-pods=10", "--nope",
	})
	if len(unknown) != 2 || unknown[0].(*UnknownFlagError).Index != 3 || unknown[1].(*UnknownFlagError).Flag != "--nope" {
		t.Errorf("unknown = %v, want --bootstrap-token and --nope", unknown)
	}
	if unknown[0].(*UnknownFlagError).Hint == "" {
		t.Errorf("--bootstrap-token has no hint that it is kubeadm join's")
	}
	if len(deprecated) != 1 || deprecated[0].Error() != "the kubelet flag --max-pods is deprecated: set kubelet.config.maxPods instead" {
		t.Errorf("deprecated = %v, want --max-pods with kubelet.config.maxPods", deprecated)
	}
	// Every deprecated flag names a KubeletConfiguration field the renderer knows.
	for flag, field := range kubeletFlags {
		if field == "" {
			continue
		}
		// logging is component-base's type: the table stops at its top.
		if _, ok := kubeletFields[field]; !ok && field != "logging.format" {
			t.Errorf("flag --%s maps to %q, not a KubeletConfiguration field", flag, field)
		}
	}
}
