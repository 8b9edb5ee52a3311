package templates

import (
	"errors"
	"strings"
	"testing"
	"time"

	kubeletv1 "k8s.io/kubelet/config/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

func withProvider(p *profile.Profile) *profile.Profile {
	p.Kubelet.Declared = true
	p.Kubelet.CredentialProviders = []profile.CredentialProvider{{
		Name: "ecr-credential-provider", MatchImages: []string{"*.dkr.ecr.*.amazonaws.com"},
		DefaultCacheDuration: 12 * time.Hour, APIVersion: profile.CredentialProviderV1,
		Args: []string{"get-credentials"}, Env: map[string]string{"B": "2", "A": "1"},
	}}
	return p
}

// The rendered configuration reads back, strictly, as the kubelet's own
// type: what nodeup writes is what the kubelet decodes.
func TestCredentialProviderConfigReadsBack(t *testing.T) {
	b, err := CredentialProviderConfigYAML(withProvider(exampleProfile(t, "2.3.4")))
	if err != nil {
		t.Fatal(err)
	}
	var cfg kubeletv1.CredentialProviderConfig
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	pr := cfg.Providers[0]
	if cfg.APIVersion != "kubelet.config.k8s.io/v1" || cfg.Kind != "CredentialProviderConfig" || len(cfg.Providers) != 1 ||
		pr.Name != "ecr-credential-provider" || pr.DefaultCacheDuration.Duration != 12*time.Hour || pr.APIVersion != profile.CredentialProviderV1 ||
		len(pr.Env) != 2 || pr.Env[0].Name != "A" || pr.Env[1].Value != "2" || pr.Args[0] != "get-credentials" {
		t.Errorf("read back:\n%s", b)
	}
}

// While the profile declares providers, the kubelet flags that name their
// configuration and directory are nodeup's; without, they are the user's.
func TestCredentialProviderFlags(t *testing.T) {
	flags := []string{"--image-credential-provider-config=/etc/x.yaml", "--image-credential-provider-bin-dir=/opt/x"}
	p := exampleProfile(t, "2.3.4")
	p.Kubelet.Declared, p.Kubelet.Flags = true, flags
	if errs := KubeletFlagConflicts(p); len(errs) != 0 {
		t.Errorf("without providers: %v", errs)
	}
	p = withProvider(p)
	errs := KubeletFlagConflicts(p)
	var fc *FlagConflictError
	if len(errs) != 2 || !errors.As(errs[0], &fc) || !strings.Contains(fc.Owner, paths.CredentialProviderConfig) {
		t.Errorf("with providers: %v", errs)
	}
	dropIn, err := KubeletDropIn(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dropIn), "--config-dir="+paths.KubeletConfigDir+" --image-credential-provider-config="+paths.CredentialProviderConfig+" --image-credential-provider-bin-dir="+paths.CredentialProviderBinDir) {
		t.Errorf("the kubeadm drop-in:\n%s", dropIn)
	}
}
