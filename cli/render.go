package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/node/host"
	"github.com/nodeup/nodeup/plan"
)

type renderedFile struct {
	Path      string `json:"path"`    // node path
	Written   string `json:"written"` // where render wrote it
	Mode      string `json:"mode"`
	Bytes     int    `json:"bytes"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

func (inv *invocation) renderCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "render PROFILE --out DIR",
		Short: "Write every rendered file under DIR, laid out as under /",
		Long: `Write every file the profile gives the node — containerd's config.toml, the hosts.toml
of each registry, the systemd units, the KubeletConfiguration, crictl.yaml, the kernel
module and sysctl lists, the RuntimeClasses — under DIR, laid out as under / (DIR/etc/...),
and list them. Files hold sensitive values where the node needs them; the listing never
shows them. Windows profiles (node.os = "windows") are rendered only.`,
		Example: `  nodeup render node.hcl --out /tmp/node
  diff -r /tmp/node/etc /etc
  nodeup render node.hcl -o out --json`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			loaded, err := inv.loadProfile(args[0])
			if err != nil {
				return err
			}
			files, secret, err := plan.Render(loaded.Profile)
			if err != nil {
				return err
			}
			h, err := host.NewOut(out)
			if err != nil {
				return fmt.Errorf("render --out: %w", err)
			}
			var listed []renderedFile
			for _, f := range files {
				dst := filepath.Join(out, filepath.FromSlash(f.Path))
				if err := h.WriteFile(f.Path, f.Content, f.Mode.Perm()); err != nil {
					return fmt.Errorf("render: %w; check that --out %s is writable", err, out)
				}
				listed = append(listed, renderedFile{Path: f.Path, Written: dst, Mode: fmt.Sprintf("%04o", f.Mode.Perm()), Bytes: len(f.Content), Sensitive: secret[f.Path]})
				if !inv.g.json {
					fmt.Fprintln(inv.out, printable(dst))
				}
			}
			if inv.g.json {
				return inv.emit(map[string]any{"out": out, "files": listed}, true)
			}
			return nil
		}),
	}
	inv.profileFlags(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "directory to write the files into (required)")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.RegisterFlagCompletionFunc("out", dirs)
	return cmd
}
