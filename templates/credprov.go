package templates

import (
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1 "k8s.io/kubelet/config/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/profile"
)

// The CredentialProviderConfig type this package renders: v1, which every
// kubelet from 1.26 reads.
const (
	credentialProviderConfigKind       = "CredentialProviderConfig"
	credentialProviderConfigAPIVersion = "kubelet.config.k8s.io/v1"
)

// The kubelet flags that pass it the credential providers: nodeup's own
// while the profile declares any.
const (
	credentialProviderConfigFlag = "image-credential-provider-config"
	credentialProviderBinDirFlag = "image-credential-provider-bin-dir"
)

// HasCredentialProviders reports whether the kubelet is given credential
// providers: paths.CredentialProviderConfig is rendered and the drop-in
// passes it.
func HasCredentialProviders(p *profile.Profile) bool {
	return p.Kubelet.Declared && len(p.Kubelet.CredentialProviders) > 0 && p.Node.OS == profile.OSLinux
}

// CredentialProviderConfig builds the kubelet's CredentialProviderConfig:
// one provider per credential_provider block, in the profile's order (the
// kubelet tries the first that matches an image first), each named as its
// binary in paths.CredentialProviderBinDir, with its environment sorted
// by name.
func CredentialProviderConfig(p *profile.Profile) *kubeletv1.CredentialProviderConfig {
	cfg := &kubeletv1.CredentialProviderConfig{
		TypeMeta:  metav1.TypeMeta{APIVersion: credentialProviderConfigAPIVersion, Kind: credentialProviderConfigKind},
		Providers: []kubeletv1.CredentialProvider{},
	}
	for _, cp := range p.Kubelet.CredentialProviders {
		prov := kubeletv1.CredentialProvider{
			Name:                 cp.Name,
			MatchImages:          slices.Clone(cp.MatchImages),
			DefaultCacheDuration: &metav1.Duration{Duration: cp.DefaultCacheDuration},
			APIVersion:           cp.APIVersion,
			Args:                 slices.Clone(cp.Args),
		}
		for _, name := range slices.Sorted(maps.Keys(cp.Env)) {
			prov.Env = append(prov.Env, kubeletv1.ExecEnvVar{Name: name, Value: cp.Env[name]})
		}
		cfg.Providers = append(cfg.Providers, prov)
	}
	return cfg
}

// CredentialProviderConfigYAML renders paths.CredentialProviderConfig, the
// file --image-credential-provider-config names. It holds the providers'
// environment: plan.Render makes it 0600 when a value is sensitive.
func CredentialProviderConfigYAML(p *profile.Profile) ([]byte, error) {
	out, err := yaml.Marshal(CredentialProviderConfig(p))
	if err != nil {
		return nil, fmt.Errorf("credential provider config: %w", err)
	}
	return append([]byte("# "+header+"\n"), out...), nil
}

// credentialProviderArgs are the kubelet flags that pass it its providers.
func credentialProviderArgs(p *profile.Profile) []string {
	if !HasCredentialProviders(p) {
		return nil
	}
	return []string{
		"--" + credentialProviderConfigFlag + "=" + paths.CredentialProviderConfig,
		"--" + credentialProviderBinDirFlag + "=" + paths.CredentialProviderBinDir,
	}
}
