// Command credprovider is a kubelet image credential provider for the VM
// tests. It reads the kubelet's CredentialProviderRequest on stdin and
// answers on stdout with a CredentialProviderResponse, in the request's
// version, that gives the image's registry the username and password of
// its environment (NODEUP_TEST_REGISTRY_USER, NODEUP_TEST_REGISTRY_PASSWORD),
// cached per registry. With NODEUP_TEST_CREDPROVIDER_LOG set it appends
// each image it is asked for to that file, so a test can tell the kubelet
// asked. Anything wrong is said on stderr, with exit status 1, which the
// kubelet logs.
//
// It uses the standard library only, so the VM tests build it with go
// build alone.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The environment the provider reads.
const (
	envUser     = "NODEUP_TEST_REGISTRY_USER"
	envPassword = "NODEUP_TEST_REGISTRY_PASSWORD"
	envLog      = "NODEUP_TEST_CREDPROVIDER_LOG"
)

// apiVersions are the versions of the request the kubelet may send (the
// provider's apiVersion in its CredentialProviderConfig); the response
// is in the same version.
var apiVersions = []string{
	"credentialprovider.kubelet.k8s.io/v1",
	"credentialprovider.kubelet.k8s.io/v1beta1",
	"credentialprovider.kubelet.k8s.io/v1alpha1",
}

// request is the kubelet's CredentialProviderRequest.
type request struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Image      string `json:"image"`
}

// response is a CredentialProviderResponse.
type response struct {
	APIVersion   string                `json:"apiVersion"`
	Kind         string                `json:"kind"`
	CacheKeyType string                `json:"cacheKeyType"`
	Auth         map[string]authConfig `json:"auth"`
}

type authConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func main() {
	if err := run(os.Stdin, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "credprovider:", err)
		os.Exit(1)
	}
}

// run answers the request on in with the response on out, taking the
// credentials from getenv.
func run(in io.Reader, out io.Writer, getenv func(string) string) error {
	var req request
	dec := json.NewDecoder(io.LimitReader(in, 1<<20))
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("read the CredentialProviderRequest on stdin: %w", err)
	}
	if req.Kind != "CredentialProviderRequest" || !slices.Contains(apiVersions, req.APIVersion) {
		return fmt.Errorf("stdin holds a %s %s, not a CredentialProviderRequest of %s", req.APIVersion, req.Kind, strings.Join(apiVersions, ", "))
	}
	if req.Image == "" {
		return errors.New("the request names no image")
	}
	user, password := getenv(envUser), getenv(envPassword)
	if user == "" || password == "" {
		return fmt.Errorf("set %s and %s in the provider's environment (env in its credential_provider block)", envUser, envPassword)
	}
	if log := getenv(envLog); log != "" {
		if err := appendLine(log, req.Image); err != nil {
			return err
		}
	}
	resp := response{
		APIVersion:   req.APIVersion,
		Kind:         "CredentialProviderResponse",
		CacheKeyType: "Registry",
		Auth:         map[string]authConfig{registryHost(req.Image): {Username: user, Password: password}},
	}
	return json.NewEncoder(out).Encode(resp)
}

// registryHost is the registry of an image reference, as the kubelet
// matches auth keys: its first component when that names a host (a dot, a
// port or localhost), else Docker Hub's.
func registryHost(image string) string {
	first, rest, found := strings.Cut(image, "/")
	if !found || rest == "" || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		return "docker.io"
	}
	return first
}

// appendLine appends line to the file at path, creating it.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", envLog, err)
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", envLog, err)
	}
	return nil
}
