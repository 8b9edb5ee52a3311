package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/nodeup/nodeup/plan"
)

// Where cloud-init puts the profile and nodeup on the new node.
const (
	nodeProfileDir = "/etc/nodeup/profile.d"
	nodeNodeupBin  = "/usr/local/bin/nodeup"
)

type cloudFile struct {
	Path        string `json:"path"`
	Content     string `json:"content"`
	Permissions string `json:"permissions"`
	Owner       string `json:"owner"`
}

type cloudConfig struct {
	WriteFiles []cloudFile `json:"write_files"`
	RunCmd     [][]string  `json:"runcmd"`
}

func (inv *invocation) cloudInitCommand() *cobra.Command {
	var nodeupURL, nodeupSHA, arch string
	cmd := &cobra.Command{
		Use:   "cloud-init PROFILE --nodeup-url URL --nodeup-sha256 SUM",
		Short: "Print cloud-init user data that installs nodeup and applies PROFILE on first boot",
		Long: "The user data writes the profile's files to " + nodeProfileDir + ", downloads nodeup from\n" +
			"--nodeup-url and checks its sha256 before running it, then runs nodeup apply. With\n" +
			"--nodeup-url empty it assumes an image that has " + nodeNodeupBin + " already (see --phase bake).",
		Example: `  nodeup cloud-init node.hcl --nodeup-url https://example.com/nodeup-linux-{arch} --nodeup-sha256 SUM > user-data
  nodeup cloud-init node.hcl --phase boot > user-data   # an image baked with nodeup apply --phase bake`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			g := &inv.g
			// Validate first: a broken profile or flag must not reach a fleet.
			download, err := checkCloudInitFlags(nodeupURL, nodeupSHA, arch, g.phase)
			if err != nil {
				return err
			}
			if _, _, err := inv.loadGraph(args[0]); err != nil {
				return err
			}
			files, err := profileSources(args[0])
			if err != nil {
				return err
			}
			var cc cloudConfig
			for _, f := range files {
				b, err := plan.ReadFile(f)
				if err != nil {
					return err
				}
				cc.WriteFiles = append(cc.WriteFiles, cloudFile{Path: nodeProfileDir + "/" + filepath.Base(f), Content: string(b), Permissions: "0600", Owner: "root:root"})
			}
			for i, vf := range g.varFiles {
				b, err := plan.ReadFile(vf)
				if err != nil {
					return err
				}
				cc.WriteFiles = append(cc.WriteFiles, cloudFile{Path: fmt.Sprintf("/etc/nodeup/vars-%d.hcl", i), Content: string(b), Permissions: "0600", Owner: "root:root"})
			}
			if download != "" {
				// Argument lists run without a shell; the one shell line
				// quotes every value it holds.
				tmp := nodeNodeupBin + ".download"
				cc.RunCmd = append(cc.RunCmd,
					[]string{"curl", "-fsSL", "--retry", "5", "-o", tmp, "--", download},
					[]string{"sh", "-c", fmt.Sprintf("printf '%%s  %%s\\n' %s %s | sha256sum -c - && chmod 0755 %s && mv %s %s",
						shellQuote(nodeupSHA), shellQuote(tmp), shellQuote(tmp), shellQuote(tmp), shellQuote(nodeNodeupBin))})
			}
			apply := []string{nodeNodeupBin, "apply", nodeProfileDir, "--log-format", "text", "--no-color"}
			for i := range g.varFiles {
				apply = append(apply, "--var-file", fmt.Sprintf("/etc/nodeup/vars-%d.hcl", i))
			}
			for _, v := range g.vars {
				apply = append(apply, "--var", v)
			}
			if g.phase != "all" {
				apply = append(apply, "--phase", g.phase)
			}
			cc.RunCmd = append(cc.RunCmd, apply)
			out, err := yaml.Marshal(cc)
			if err != nil {
				return err
			}
			userData := fmt.Sprintf("#cloud-config\n# Written by nodeup cloud-init from %s.\n%s", args[0], out)
			// The user data is the payload: it carries what the node needs,
			// sensitive values given with --var included, so it bypasses the
			// stream guard.
			if inv.g.json {
				doc, err := json.Marshal(map[string]any{"format_version": FormatVersion, "command": inv.command, "ok": true, "diagnostics": inv.jsonDiagnostics(), "user_data": userData})
				if err != nil {
					return err
				}
				inv.emitted = true
				_, err = fmt.Fprintf(inv.payload(), "%s\n", doc)
				return err
			}
			_, err = fmt.Fprint(inv.payload(), userData)
			return err
		}),
	}
	inv.profileFlags(cmd)
	inv.phaseFlag(cmd)
	cmd.Flags().StringVar(&nodeupURL, "nodeup-url", "", "where the node downloads nodeup ({arch} is replaced); empty: nodeup is in the image")
	cmd.Flags().StringVar(&nodeupSHA, "nodeup-sha256", "", "sha256 of the nodeup binary at --nodeup-url")
	cmd.Flags().StringVar(&arch, "arch", runtime.GOARCH, "the node's architecture, for {arch} in --nodeup-url")
	return cmd
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
			return "", fmt.Errorf("--nodeup-sha256 without --nodeup-url: give the URL the node downloads nodeup from, or leave both out for an image that has %s", nodeNodeupBin)
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

// profileSources lists the files of a profile (a file or a directory of
// *.hcl), so the node receives the same profile.
func profileSources(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	files, err := filepath.Glob(filepath.Join(p, "*.hcl"))
	sort.Strings(files)
	return files, err
}
