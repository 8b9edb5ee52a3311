package profile

import "time"

// The request and response versions a kubelet credential provider may
// speak (a CredentialProvider's apiVersion): every kubelet nodeup pins
// still accepts all three; v1 is the default.
const (
	CredentialProviderV1       = "credentialprovider.kubelet.k8s.io/v1"
	CredentialProviderV1beta1  = "credentialprovider.kubelet.k8s.io/v1beta1"
	CredentialProviderV1alpha1 = "credentialprovider.kubelet.k8s.io/v1alpha1"
)

// CredentialProviderAPIVersions are the api_version values a
// credential_provider block takes, the default first.
func CredentialProviderAPIVersions() []string {
	return []string{CredentialProviderV1, CredentialProviderV1beta1, CredentialProviderV1alpha1}
}

// CredentialProvider is a kubelet.credential_provider block: an exec
// plugin the kubelet runs for image pull credentials. nodeup installs its
// binary (the Component: url and sha256, with an optional version) as
// Name in the kubelet's credential provider directory, where the kubelet
// looks for it by that name, and lists it in the CredentialProviderConfig.
type CredentialProvider struct {
	Name string
	Component
	// MatchImages are the kubelet's matchImages patterns:
	// host[:port][/path], globs in the host's parts.
	MatchImages []string
	// DefaultCacheDuration is how long the kubelet keeps credentials the
	// provider gives without a cache duration of their own.
	DefaultCacheDuration time.Duration
	Args                 []string
	// Env is passed to the provider; its values may be sensitive.
	Env        map[string]string
	APIVersion string
}
