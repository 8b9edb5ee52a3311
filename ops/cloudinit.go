package ops

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"github.com/nodeup/nodeup/internal/escape"
	"mime/multipart"
	"net/textproto"
	"path"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
	"github.com/nodeup/nodeup/steps"
)

// UserDataLimit is the smallest user data limit of the large providers
// (EC2: 16 KiB before base64); above it nodeup suggests --gzip.
const UserDataLimit = 16 << 10

// CloudInitOptions are what cloud-init is asked.
type CloudInitOptions struct {
	Path string
	// Download is the URL the node downloads nodeup from, SHA256 the
	// sha256 of what it serves; "": the image has nodeup.
	Download, SHA256 string
	// MIME wraps the cloud-config in a multipart archive with the Parts
	// (files, each a part cloud-init knows by its first line) after it.
	MIME  bool
	Parts []string
	// Gzip compresses the user data.
	Gzip bool
}

// CloudInitReport is the user data. It carries what the node needs,
// sensitive values included: whoever shows it must not redact it.
type CloudInitReport struct {
	UserData []byte
	// MIME and Gzip say what UserData is, as asked.
	MIME, Gzip bool
}

// CloudInit writes the user data that replaces the node's profile with the
// whole profile and applies it on first boot, for the phase of c.
func CloudInit(c *Config, o CloudInitOptions) (*CloudInitReport, error) {
	var parts []userDataPart
	for _, f := range o.Parts {
		part, err := readUserDataPart(f)
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	loaded, _, err := c.LoadGraph(o.Path)
	if err != nil {
		return nil, err
	}
	files, err := plan.Snapshot(loaded.Profile)
	if err != nil {
		return nil, fmt.Errorf("the user data carries the whole profile: %w", err)
	}
	body, err := yaml.Marshal(cloudConfigFor(files, o.Download, o.SHA256, c.Phase))
	if err != nil {
		return nil, err
	}
	// The path is data: on one line, it cannot add keys to the YAML.
	out := []byte(fmt.Sprintf("#cloud-config\n# Written by nodeup cloud-init from %s.\n%s", escape.Line(o.Path), body))
	if o.MIME {
		out = mimeUserData(append([]userDataPart{{name: "nodeup.cfg", contentType: "text/cloud-config", data: out}}, parts...))
	}
	if o.Gzip {
		out = gzipped(out)
	} else if len(out) > UserDataLimit {
		c.logger().Warn(fmt.Sprintf("the user data has %d bytes, more than the %d some providers take (EC2): add --gzip", len(out), UserDataLimit))
	}
	return &CloudInitReport{UserData: out, MIME: o.MIME, Gzip: o.Gzip}, nil
}

// CloudFile is a file of a cloud-config's write_files.
type CloudFile struct {
	Path        string `json:"path"`
	Content     string `json:"content"`
	Encoding    string `json:"encoding,omitempty"`
	Permissions string `json:"permissions"`
	Owner       string `json:"owner"`
}

// CloudConfig is the cloud-config nodeup writes, as YAML reads back into it.
type CloudConfig struct {
	BootCmd    [][]string  `json:"bootcmd,omitempty"`
	WriteFiles []CloudFile `json:"write_files"`
	RunCmd     [][]string  `json:"runcmd"`
}

// cloudConfigFor is the cloud-config that replaces the node's profile
// directory with files and applies it: bootcmd empties the directory once
// per instance (before write_files, which runs in the same stage), so a
// baked profile is replaced, not merged with.
func cloudConfigFor(files []plan.SnapshotFile, download, sha string, phase steps.Phase) CloudConfig {
	var cc CloudConfig
	cc.BootCmd = [][]string{{"cloud-init-per", "instance", "nodeup-profile", "rm", "-rf", paths.ProfileDir}}
	for _, f := range files {
		cf := CloudFile{Path: path.Join(paths.ProfileDir, f.Rel), Content: string(f.Data), Permissions: fmt.Sprintf("%#o", f.Mode), Owner: "root:root"}
		if !utf8.Valid(f.Data) {
			cf.Content, cf.Encoding = base64.StdEncoding.EncodeToString(f.Data), "b64"
		}
		cc.WriteFiles = append(cc.WriteFiles, cf)
	}
	if download != "" {
		// Argument lists run without a shell; the one shell line
		// quotes every value it holds.
		tmp := paths.Nodeup + ".download"
		cc.RunCmd = append(cc.RunCmd,
			[]string{"curl", "-fsSL", "--retry", "5", "-o", tmp, "--", download},
			[]string{"sh", "-c", fmt.Sprintf("printf '%%s  %%s\\n' %s %s | sha256sum -c - && chmod 0755 %s && mv %s %s",
				shellQuote(sha), shellQuote(tmp), shellQuote(tmp), shellQuote(tmp), shellQuote(paths.Nodeup))})
	}
	apply := []string{paths.Nodeup, "apply", paths.ProfileDir, "--wait", "--log-format", "text", "--no-color"}
	if download == "" {
		// A baked image or a package may have nodeup elsewhere in PATH.
		apply[0] = "nodeup"
	}
	if phase != "" && phase != steps.PhaseAll {
		apply = append(apply, "--phase", string(phase))
	}
	cc.RunCmd = append(cc.RunCmd, apply)
	return cc
}

// userDataPart is one part of a multipart user data.
type userDataPart struct {
	name, contentType string
	data              []byte
}

// partTypes are the first lines cloud-init recognises in user data and the
// MIME types it gives them.
var partTypes = []struct{ prefix, contentType string }{
	{"#cloud-config-archive", "text/cloud-config-archive"},
	{"#cloud-config", "text/cloud-config"},
	{"#cloud-boothook", "text/cloud-boothook"},
	{"#include", "text/x-include-url"},
	{"#part-handler", "text/part-handler"},
	{"## template: jinja", "text/jinja2"},
	{"#!", "text/x-shellscript"},
}

// readUserDataPart reads a --part file and tells its type by its first
// line, as cloud-init does.
func readUserDataPart(file string) (userDataPart, error) {
	b, err := plan.ReadFile(file)
	if err != nil {
		return userDataPart{}, fmt.Errorf("--part %s: %w", file, err)
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	for _, t := range partTypes {
		if bytes.HasPrefix(first, []byte(t.prefix)) {
			return userDataPart{name: path.Base(file), contentType: t.contentType, data: b}, nil
		}
	}
	return userDataPart{}, fmt.Errorf("--part %s: its first line %q says nothing cloud-init knows; start it with #cloud-config, #! (a script), #cloud-boothook or #include", file, truncate(string(first), 40))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// mimeUserData is a multipart/mixed archive of parts, as cloud-init's
// make-mime writes it. Cloud-config parts are merged with lists appended
// (cloud-init's default replaces them, which would drop nodeup's runcmd).
// The boundary comes from the content, so the same input gives the same
// output.
func mimeUserData(parts []userDataPart) []byte {
	h := digest.New()
	for _, p := range parts {
		h.Write(p.data)
	}
	boundary := "nodeup-" + digest.Of(h)[:32]
	var b bytes.Buffer
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\nMIME-Version: 1.0\r\n\r\n", boundary)
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary(boundary)
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Type", p.contentType+`; charset="utf-8"`)
		hdr.Set("MIME-Version", "1.0")
		hdr.Set("Content-Transfer-Encoding", "base64")
		hdr.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", p.name))
		if p.contentType == "text/cloud-config" {
			hdr.Set("Merge-Type", "list(append)+dict(no_replace,recurse_list)+str()")
		}
		pw, _ := w.CreatePart(hdr)
		enc := base64.StdEncoding.EncodeToString(p.data)
		for len(enc) > 76 {
			fmt.Fprintf(pw, "%s\r\n", enc[:76])
			enc = enc[76:]
		}
		fmt.Fprintf(pw, "%s\r\n", enc)
	}
	_ = w.Close()
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// shellQuote quotes s as one word for a POSIX shell: inside single quotes
// nothing is special, and a single quote is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
