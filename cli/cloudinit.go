package cli

import (
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/paths"
	"github.com/nodeup/nodeup/ops"
	"github.com/nodeup/nodeup/plan"
)

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
			return inv.runCloudInit(args[0], o)
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

// runCloudInit prints the user data, once its flags are checked: a
// broken profile or flag must not reach a fleet.
func (inv *invocation) runCloudInit(profilePath string, o cloudInitOptions) error {
	download, err := checkCloudInitFlags(o.nodeupURL, o.nodeupSHA, o.arch, inv.g.phase)
	if err != nil {
		return err
	}
	if o.format != "cloud-config" && o.format != "mime" {
		return fmt.Errorf("--format %q: use cloud-config or mime", o.format)
	}
	if len(o.parts) > 0 && o.format != "mime" {
		return fmt.Errorf("--part needs --format mime: only a multipart archive holds more than one part")
	}
	if o.gzip && inv.binaryOnTerminal() {
		return fmt.Errorf("--gzip writes binary data: redirect it to a file (nodeup cloud-init %s --gzip > user-data.gz)", profilePath)
	}
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	r, err := ops.CloudInit(cfg, ops.CloudInitOptions{Path: profilePath, Download: download, SHA256: o.nodeupSHA,
		MIME: o.format == "mime", Parts: o.parts, Gzip: o.gzip})
	if err != nil {
		return err
	}
	return inv.show(cloudInitView{r})
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
