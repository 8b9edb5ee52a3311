package archive

import (
	"io/fs"
	"strings"
)

// Format is the packaging of a downloaded artifact.
type Format string

// Artifact formats nodeup can unpack.
const (
	FormatBinary Format = "binary"
	FormatTarGz  Format = "tar.gz"
	FormatTarZst Format = "tar.zst"
	FormatTarXz  Format = "tar.xz"
)

// FormatOf guesses an artifact's format from its file name.
func FormatOf(name string) Format {
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return FormatTarGz
	case strings.HasSuffix(name, ".tar.zst"):
		return FormatTarZst
	case strings.HasSuffix(name, ".tar.xz"):
		return FormatTarXz
	default:
		return FormatBinary
	}
}

// Placement places one member of an artifact on the node.
type Placement struct {
	From string      // path inside the archive; empty for a raw binary
	To   string      // absolute path on the node
	Mode fs.FileMode // file mode on the node
}

// Tree places a whole directory of an archive on the node (kata's /opt/kata).
type Tree struct {
	From string // directory inside the archive, e.g. "opt/kata"
	To   string // absolute directory on the node
}
