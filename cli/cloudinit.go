package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"path"
	"regexp"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/internal/escape"
	"github.com/nodeup/nodeup/node/digest"
	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/plan"
)

// userDataLimit is the smallest user data limit of the large providers
// (EC2: 16 KiB before base64); above it nodeup suggests --gzip.
const userDataLimit = 16 << 10

type cloudFile struct {
	Path        string `json:"path"`
	Content     string `json:"content"`
	Encoding    string `json:"encoding,omitempty"`
	Permissions string `json:"permissions"`
	Owner       string `json:"owner"`
}

type cloudConfig struct {
	BootCmd    [][]string  `json:"bootcmd,omitempty"`
	WriteFiles []cloudFile `json:"write_files"`
	RunCmd     [][]string  `json:"runcmd"`
}

type cloudInitOptions struct {
	nodeupURL, nodeupSHA, arch, format string
	gzip                               bool
	parts                              []string
}

func (inv *invocation) cloudInitCommand() *cobra.Command {
	var o cloudInitOptions
	cmd := &cobra.Command{
		Use:   "cloud-init PROFILE [--nodeup-url URL --nodeup-sha256 SUM] [--format cloud-config|mime] [--gzip]",
		Short: "Print cloud-init user data that installs nodeup and applies PROFILE on first boot",
		Long: "The user data replaces " + paths.ProfileDir + " with the whole profile: its *.hcl files,\n" +
			"the files it reads with file(), and the values given now (--var, --var-file, NODEUP_VAR_*)\n" +
			"in " + plan.GivenVarsFile + " (0600: sensitive values never reach a command line). It\n" +
			"downloads nodeup from --nodeup-url and checks its sha256 before running it, then runs\n" +
			"nodeup apply " + paths.ProfileDir + " --wait, which queues behind nodeup-boot.service on a\n" +
			"baked image. With --nodeup-url empty the image must have nodeup already (see --phase bake).\n\n" +
			"--format mime wraps the cloud-config in a multipart archive, with the --part files after it\n" +
			"(their first line says what they are, as for cloud-init: #cloud-config, #!, #cloud-boothook,\n" +
			"#include); cloud-config parts are merged, lists appended. --gzip compresses the result for\n" +
			"providers' size limits; cloud-init unpacks it.\n\n" +
			"The user data carries what the node needs, sensitive values included: keep it as secret\n" +
			"as they are. With --json the document's user_data holds it (base64 with --gzip).",
		Example: `  nodeup cloud-init node.hcl --nodeup-url https://example.com/nodeup-linux-{arch} --nodeup-sha256 SUM > user-data
  nodeup cloud-init node.hcl --var-file site.hcl > user-data   # an image that has nodeup (a package, a bake)
  nodeup cloud-init node.hcl --format mime --part site.cfg --part hello.sh --gzip > user-data.gz`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			g := &inv.g
			// Validate first: a broken profile or flag must not reach a fleet.
			download, err := checkCloudInitFlags(o.nodeupURL, o.nodeupSHA, o.arch, g.phase)
			if err != nil {
				return err
			}
			if o.format != "cloud-config" && o.format != "mime" {
				return fmt.Errorf("--format %q: use cloud-config or mime", o.format)
			}
			if len(o.parts) > 0 && o.format != "mime" {
				return fmt.Errorf("--part needs --format mime: only a multipart archive holds more than one part")
			}
			if o.gzip && !g.json && isTerminal(inv.raw.Out) {
				return fmt.Errorf("--gzip writes binary data: redirect it to a file (nodeup cloud-init %s --gzip > user-data.gz)", args[0])
			}
			var parts []userDataPart
			for _, f := range o.parts {
				part, err := readUserDataPart(f)
				if err != nil {
					return err
				}
				parts = append(parts, part)
			}
			loaded, _, err := inv.loadGraph(args[0])
			if err != nil {
				return err
			}
			files, err := plan.Snapshot(loaded.Profile)
			if err != nil {
				return fmt.Errorf("the user data carries the whole profile: %w", err)
			}
			cc := cloudConfigFor(files, download, o.nodeupSHA, g.phase)
			body, err := yaml.Marshal(cc)
			if err != nil {
				return err
			}
			out := []byte(fmt.Sprintf("#cloud-config\n# Written by nodeup cloud-init from %s.\n%s", escape.Line(args[0]), body))
			if o.format == "mime" {
				out = mimeUserData(append([]userDataPart{{name: "nodeup.cfg", contentType: "text/cloud-config", data: out}}, parts...))
			}
			if o.gzip {
				out = gzipped(out)
			} else if len(out) > userDataLimit {
				inv.log.Warn(fmt.Sprintf("the user data has %d bytes, more than the %d some providers take (EC2): add --gzip", len(out), userDataLimit))
			}
			// The user data is the payload: it carries what the node needs,
			// sensitive values included, so it bypasses the stream guard.
			if g.json {
				doc := map[string]any{"format_version": FormatVersion, "command": inv.command, "ok": true, "diagnostics": inv.jsonDiagnostics(),
					"format": o.format, "gzip": o.gzip, "bytes": len(out)}
				if o.gzip {
					doc["user_data"] = base64.StdEncoding.EncodeToString(out)
				} else {
					doc["user_data"] = string(out)
				}
				b, err := json.Marshal(doc)
				if err != nil {
					return err
				}
				inv.emitted = true
				_, err = fmt.Fprintf(inv.payload(), "%s\n", b)
				return err
			}
			_, err = inv.payload().Write(out)
			return err
		}),
	}
	inv.profileFlags(cmd)
	inv.phaseFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&o.nodeupURL, "nodeup-url", "", "where the node downloads nodeup ({arch} is replaced); empty: nodeup is in the image")
	f.StringVar(&o.nodeupSHA, "nodeup-sha256", "", "sha256 of the nodeup binary at --nodeup-url")
	f.StringVar(&o.arch, "arch", runtime.GOARCH, "the node's architecture, for {arch} in --nodeup-url")
	f.StringVar(&o.format, "format", "cloud-config", "cloud-config, or mime (multipart, with --part files)")
	f.BoolVar(&o.gzip, "gzip", false, "gzip the user data (cloud-init unpacks it)")
	f.StringArrayVar(&o.parts, "part", nil, "add `FILE` as a part of the mime user data (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("arch", fixedCompletion("amd64", "arm64"))
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("cloud-config", "mime"))
	return cmd
}

// cloudConfigFor is the cloud-config that replaces the node's profile
// directory with files and applies it: bootcmd empties the directory once
// per instance (before write_files, which runs in the same stage), so a
// baked profile is replaced, not merged with.
func cloudConfigFor(files []plan.SnapshotFile, download, sha, phase string) cloudConfig {
	var cc cloudConfig
	cc.BootCmd = [][]string{{"cloud-init-per", "instance", "nodeup-profile", "rm", "-rf", paths.ProfileDir}}
	for _, f := range files {
		cf := cloudFile{Path: path.Join(paths.ProfileDir, f.Rel), Content: string(f.Data), Permissions: fmt.Sprintf("%#o", f.Mode), Owner: "root:root"}
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
	if phase != "all" {
		apply = append(apply, "--phase", phase)
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

// checkCloudInitFlags validates the flags that end up in the user data and
// returns the URL the node downloads nodeup from ("" for none): an http(s)
// URL after {arch} is replaced, with the 64 lowercase hex digit sha256 of
// what it serves.
func checkCloudInitFlags(nodeupURL, sha, arch, phase string) (string, error) {
	if arch != "amd64" && arch != "arm64" {
		return "", fmt.Errorf("--arch %q: use amd64 or arm64", arch)
	}
	if _, err := parsePhase(phase); err != nil {
		return "", err
	}
	if nodeupURL == "" {
		if sha != "" {
			return "", fmt.Errorf("--nodeup-sha256 without --nodeup-url: give the URL the node downloads nodeup from, or leave both out for an image that has nodeup already")
		}
		return "", nil
	}
	if !sha256Hex.MatchString(sha) {
		return "", fmt.Errorf("--nodeup-sha256 must be exactly 64 lowercase hex digits, the sha256 of the binary at --nodeup-url (sha256sum prints it), so the node can check it; got %d characters", len(sha))
	}
	u := strings.ReplaceAll(nodeupURL, "{arch}", arch)
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("--nodeup-url %q: want an http:// or https:// URL without spaces or control characters ({arch} is replaced by --arch)", nodeupURL)
	}
	return u, nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// shellQuote quotes s as one word for a POSIX shell: inside single quotes
// nothing is special, and a single quote is closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
