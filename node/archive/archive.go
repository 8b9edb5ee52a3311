// Package archive unpacks release artifacts (tar.gz, tar.zst, tar.xz, or a
// raw binary) onto a node through host.Host, so --root is honoured and
// nothing lands outside the destination.
//
// Every entry of an archive is checked before anything is installed, in
// every mode, and the archive is refused, with the entry named, if any entry
// has an absolute path or a ".." component; is a device node, fifo or other
// special file; is a symlink whose target is absolute or climbs out of the
// archive (or, for a tree, out of the tree); sits below a symlink or a file
// from earlier in the archive (the classic "write through a link" escape);
// replaces an earlier entry of the same name with another kind (a file with
// a symlink, a symlink with anything); or is a hardlink to anything but
// what is, at that point of the archive, a regular file (and, for a tree,
// inside the tree). A tree is unpacked by a directory handle that follows
// no symlink at all, and once its last entry is written every symlink in
// it, as found on disk, must resolve inside it. The total unpacked size and
// the number of entries are capped to stop decompression bombs.
//
// Setuid, setgid and sticky bits and group and other write bits are
// stripped and logged (once per member), not refused: a release archive has
// no business setting them, but refusing would block an operator over a
// packaging slip, and stripping makes the file harmless (0777 is 0755, 0666
// is 0644).
// Owners in the archive are ignored: files belong to the user running nodeup
// (root). Leading "./" is ignored ("./bridge" is "bridge").
//
// Nothing is half-installed: members are written next to their destination
// first and renamed into place only when the whole archive has been read
// and checked; a tree is unpacked into a staging directory beside it and
// swapped in whole. An archive may be read while it downloads
// (OpenStream): its members are staged as the bytes arrive, and committed
// only once the download is verified.
package archive

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/nodeup/nodeup/node/digest"
)

// Limits for the zero values of Archive's fields.
const (
	DefaultMaxBytes   int64 = 4 << 30
	DefaultMaxEntries       = 100_000
	// metadataSlack is what a tar stream may hold beyond its files' data
	// (headers, padding, long names) before it counts as a bomb.
	metadataSlack = 256 << 20
)

// ErrUnsafe is the class of errors for archives refused as unsafe
// (errors.Is); the error itself is an *EntryError.
var ErrUnsafe = errors.New("unsafe archive")

// EntryError is an archive refused because of one entry.
type EntryError struct {
	Archive string // the archive's display name
	Entry   string // the entry's name as written in the archive
	Reason  string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("archive %s: entry %q %s; refusing to unpack it, nothing was installed", e.Archive, e.Entry, e.Reason)
}

func (e *EntryError) Is(target error) bool { return target == ErrUnsafe }

// Kind is what a member is.
type Kind string

// Member kinds.
const (
	File     Kind = "file"
	Dir      Kind = "dir"
	Symlink  Kind = "symlink"
	Hardlink Kind = "hardlink"
)

// Member is one entry of an archive.
type Member struct {
	Name   string      // clean relative name, no "./" prefix; "" for a raw binary
	Kind   Kind        //
	Size   int64       // bytes, for a File
	Mode   fs.FileMode // permission bits, setuid/setgid/sticky stripped
	Link   string      // target of a Symlink (as written) or a Hardlink (a member name)
	SHA256 string      // hex sha256 of a File's content
}

// Archive is a downloaded artifact to unpack.
type Archive struct {
	// Name is how errors and logs name the archive; Open sets it to the
	// file's base name (set it to the URL for better messages).
	Name string
	// MaxBytes caps the total size of the files in the archive; 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries caps the number of entries; 0 means DefaultMaxEntries.
	MaxEntries int
	// Log receives a line for each stripped mode bit.
	Log func(format string, args ...any)
	// BeforeCommit, when set, is called by Install for each file once the
	// whole archive has been read and checked, before the first file is
	// renamed into place: with the file's node path and the sha256 of its
	// new content (to back up what is there). An error installs nothing.
	BeforeCommit func(to, sha256 string) error

	path   string
	open   func() (io.ReadCloser, error) // the archive's bytes from the start
	stream bool                          // open follows a download: read to its end
	format Format
	logged map[string]bool // members whose mode change was logged
}

// Open prepares the archive file at path (a real path, e.g. from
// fetch.Fetcher.Fetch) in the given format.
func Open(path string, format Format) (*Archive, error) {
	switch format {
	case FormatBinary, FormatTarGz, FormatTarZst, FormatTarXz:
	default:
		return nil, fmt.Errorf("archive %s: unknown format %q; want %s, %s, %s or %s", path, format,
			FormatTarGz, FormatTarZst, FormatTarXz, FormatBinary)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("archive %s is not a regular file", path)
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	return &Archive{Name: filepath.Base(path), path: path, open: open, format: format}, nil
}

// OpenStream prepares an archive read from open, each call a reader of its
// bytes from the start, while it downloads (fetch.Stream.Open): every read
// goes on to the reader's end, which a download's reader reaches only once
// its bytes are verified, so an archive staged without error (Stage) was
// staged from the verified file. It has no trees to install.
func OpenStream(name string, open func() (io.ReadCloser, error), format Format) (*Archive, error) {
	switch format {
	case FormatBinary, FormatTarGz, FormatTarZst, FormatTarXz:
	default:
		return nil, fmt.Errorf("archive %s: unknown format %q", name, format)
	}
	return &Archive{Name: name, open: open, stream: true, format: format}, nil
}

// Members lists the archive's entries (checked as described in the package
// doc), with the sha256 of each file, so a step can tell before installing
// whether a member exists and whether the node already has its content. A
// raw binary has one member named "".
func (a *Archive) Members() ([]Member, error) {
	if a.format == FormatBinary {
		f, err := a.open()
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", a.Name, err)
		}
		defer f.Close()
		h := digest.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", a.Name, err)
		}
		return []Member{{Kind: File, Size: n, Mode: 0o755, SHA256: digest.Of(h)}}, nil
	}
	var out []Member
	err := a.walk(func(m *Member, r io.Reader) error {
		if r != nil {
			h := digest.New()
			if _, err := io.Copy(h, r); err != nil {
				return err
			}
			m.SHA256 = digest.Of(h)
		}
		out = append(out, *m)
		return nil
	})
	return out, err
}

func (a *Archive) maxBytes() int64 {
	if a.MaxBytes > 0 {
		return a.MaxBytes
	}
	return DefaultMaxBytes
}

func (a *Archive) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
	}
}

func (a *Archive) unsafe(entry, format string, args ...any) error {
	return &EntryError{Archive: a.Name, Entry: entry, Reason: fmt.Sprintf(format, args...)}
}

// walk reads the archive once, checks every entry and calls fn with each
// safe one in archive order; r is the content of a File, nil otherwise.
// Content not read by fn is skipped.
func (a *Archive) walk(fn func(m *Member, r io.Reader) error) error {
	f, err := a.open()
	if err != nil {
		return fmt.Errorf("archive %s: %w", a.Name, err)
	}
	defer f.Close()
	raw := bufio.NewReaderSize(f, 1<<20)
	dec, err := decompress(raw, a.format)
	if err != nil {
		return fmt.Errorf("archive %s is not a valid %s: %w", a.Name, a.format, err)
	}
	defer dec.Close()
	c := &entryCheck{a: a, maxBytes: a.maxBytes(), maxEntries: a.MaxEntries, kinds: map[string]Kind{}}
	if c.maxEntries <= 0 {
		c.maxEntries = DefaultMaxEntries
	}
	stream := &capReader{r: dec, left: c.maxBytes + metadataSlack}
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a.finish(raw)
		}
		if err != nil {
			if errors.Is(err, errStreamCap) {
				return a.unsafe("(stream)", "makes the archive decompress to more than %s; it looks like a decompression bomb", size(c.maxBytes+metadataSlack))
			}
			return fmt.Errorf("archive %s: reading %s: %w; the file is damaged, remove it from the cache and fetch it again", a.Name, a.format, err)
		}
		m, err := c.check(hdr)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		var content io.Reader
		if m.Kind == File {
			content = tr
		}
		if err := fn(m, content); err != nil {
			if errors.Is(err, errStreamCap) {
				return a.unsafe(hdr.Name, "makes the archive decompress to more than %s; it looks like a decompression bomb", size(c.maxBytes+metadataSlack))
			}
			return err
		}
	}
}

// finish reads a stream to its end (past the tar's end: padding, the
// compressor's trailer), where a download's reader says whether its bytes
// were the verified file's.
func (a *Archive) finish(raw io.Reader) error {
	if !a.stream {
		return nil
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return fmt.Errorf("archive %s: %w", a.Name, err)
	}
	return nil
}

// entryCheck checks the entries of one walk, in order, against the limits
// and against what the entries before them made.
type entryCheck struct {
	a          *Archive
	maxBytes   int64
	maxEntries int
	total      int64
	entries    int
	// kinds is what each name is after the entries read so far; the
	// directories entries are written into count too.
	kinds map[string]Kind
}

// errNoMember is check's word for an entry that is no member: PAX
// metadata, or the archive's root.
var errNoMember = errors.New("not a member")

// check says which member a tar entry is, or why it is unsafe; a nil
// member and error for an entry to pass over.
func (c *entryCheck) check(hdr *tar.Header) (*Member, error) {
	m, err := c.member(hdr)
	if errors.Is(err, errNoMember) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	name := m.Name
	// A name may come again only as what it was: a file (or hardlink)
	// for a file, a directory for a directory; never for a symlink.
	if prev, ok := c.kinds[name]; ok && !replaceable(prev, m.Kind) {
		return nil, c.a.unsafe(hdr.Name, "replaces a %s earlier in the archive with a %s", prev, m.Kind)
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		c.kinds[dir] = Dir
	}
	c.kinds[name] = m.Kind
	return m, nil
}

// member checks an entry's name and the directories above it, and reads
// its kind.
func (c *entryCheck) member(hdr *tar.Header) (*Member, error) {
	a := c.a
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, errNoMember // PAX metadata, not a file
	}
	c.entries++
	if c.entries > c.maxEntries {
		return nil, a.unsafe(hdr.Name, "is more than the %d entries allowed; it looks like a decompression bomb", c.maxEntries)
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return nil, a.unsafe(hdr.Name, "%v", err)
	}
	if name == "" {
		if hdr.Typeflag == tar.TypeDir {
			return nil, errNoMember // "./": the archive's root
		}
		return nil, a.unsafe(hdr.Name, "has an empty name")
	}
	// Every directory above the entry must be a directory, never a
	// symlink or a file: the classic "write through a link".
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		switch c.kinds[dir] {
		case Symlink:
			return nil, a.unsafe(hdr.Name, "would be written through %s, a symlink earlier in the archive", dir)
		case File, Hardlink:
			return nil, a.unsafe(hdr.Name, "would be written below %s, a file earlier in the archive", dir)
		}
	}
	m := &Member{Name: name, Mode: a.mode(hdr, name)}
	return m, c.kind(hdr, m)
}

// kind sets m's kind from its entry's type, refusing what nodeup does not
// unpack.
func (c *entryCheck) kind(hdr *tar.Header, m *Member) error {
	a, name := c.a, m.Name
	switch hdr.Typeflag {
	case tar.TypeReg: // archive/tar reads the old TypeRegA as TypeReg
		m.Kind, m.Size = File, hdr.Size
		if hdr.Size < 0 || hdr.Size > c.maxBytes-c.total {
			return a.unsafe(hdr.Name, "makes the archive unpack to more than %s (the limit); it looks like a decompression bomb — raise the limit if the artifact really is that big", size(c.maxBytes))
		}
		c.total += hdr.Size
	case tar.TypeDir:
		m.Kind = Dir
	case tar.TypeSymlink:
		m.Kind, m.Link = Symlink, hdr.Linkname
		if err := linkInside(name, hdr.Linkname, ""); err != nil {
			return a.unsafe(hdr.Name, "is a symlink to %q, which %v", hdr.Linkname, err)
		}
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil || target == "" {
			return a.unsafe(hdr.Name, "is a hardlink to %q, outside the archive", hdr.Linkname)
		}
		// What the target is now, not what it once was: a file that a
		// later entry turned into a symlink is no file to link to.
		if k := c.kinds[target]; (k != File && k != Hardlink) || target == name {
			return a.unsafe(hdr.Name, "is a hardlink to %q, which is not a file earlier in the archive", hdr.Linkname)
		}
		m.Kind, m.Link = Hardlink, target
	case tar.TypeChar, tar.TypeBlock:
		return a.unsafe(hdr.Name, "is a device node")
	case tar.TypeFifo:
		return a.unsafe(hdr.Name, "is a fifo")
	default:
		return a.unsafe(hdr.Name, "has unsupported tar type %q", hdr.Typeflag)
	}
	return nil
}

var errStreamCap = errors.New("decompressed stream exceeds the limit")
