package kernel

import (
	"os"
	"path/filepath"
	"strings"
)

// ModuleState is what the running kernel offers of a module.
type ModuleState string

const (
	ModuleLoaded    ModuleState = "loaded"    // loaded or built in
	ModuleAvailable ModuleState = "available" // modprobe can load it
	ModuleMissing   ModuleState = "missing"   // this kernel has no such module
	// ModuleUnknown: the release has no module directory here (a
	// container, a kernel without modules), so nothing can be told.
	ModuleUnknown ModuleState = "unknown"
)

// Module says whether the module is loaded, can be loaded (the release's
// modules.dep lists it), or is missing.
func (k *Kernel) Module(name string) ModuleState {
	if k.ModuleLoaded(name) {
		return ModuleLoaded
	}
	if k.Release == "" || !validModule(name) {
		return ModuleUnknown
	}
	data, err := os.ReadFile(filepath.Join(k.LibModules, k.Release, "modules.dep"))
	if err != nil {
		return ModuleUnknown
	}
	want := canonical(name)
	for _, line := range strings.Split(string(data), "\n") {
		mod, _, _ := strings.Cut(line, ":")
		base := filepath.Base(mod)
		if i := strings.Index(base, ".ko"); i > 0 && canonical(base[:i]) == want {
			return ModuleAvailable
		}
	}
	return ModuleMissing
}
