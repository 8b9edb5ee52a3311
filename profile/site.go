package profile

import (
	"io/fs"

	"github.com/hashicorp/hcl/v2"
)

// SiteFile is a file block: a file the profile writes verbatim at a path
// no other setting owns. nodeup owns it as it owns the files it renders
// (backup, drift, plan diff, reset); Restart names the units restarted
// when it changes.
type SiteFile struct {
	Path    string // absolute and clean
	Content string
	Mode    fs.FileMode
	// Restart are unit names (containerd.service), restarted once per run
	// when the file changed.
	Restart []string
	// Sensitive says the content holds a sensitive value.
	Sensitive bool
	DeclRange hcl.Range
}
