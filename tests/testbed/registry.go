package testbed

import (
	"path/filepath"
	"testing"
)

// RegistryVersion is the distribution registry build-registry.sh builds.
const RegistryVersion = "3.1.2"

// RegistryBin returns the directory holding the distribution registry
// (`registry serve CONFIG`) and `htpasswd USER PASSWORD`, which prints the
// bcrypt line its basic auth reads; build-registry.sh builds them first if
// needed (a few minutes cold).
func RegistryBin(t testing.TB) string {
	t.Helper()
	requireRoot(t)
	runScript(t, "build-registry.sh")
	return filepath.Join(Cache(), "bin", "registry-"+RegistryVersion)
}
