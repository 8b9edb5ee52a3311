package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nodeup/nodeup/templates"
	"github.com/spf13/cobra"
)

func newRenderCommand(s Streams, g *globalOptions) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "render PROFILE --out DIR",
		Short: "Write every rendered file under DIR, laid out as under /",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := loadProfile(s, g, args[0])
			if err != nil {
				return err
			}
			files, err := templates.Render(p)
			if err != nil {
				return err
			}
			for _, f := range files {
				dst := filepath.Join(out, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					return fmt.Errorf("render: %w; check that --out %s is writable", err, out)
				}
				if err := os.WriteFile(dst, f.Content, f.Mode.Perm()); err != nil {
					return fmt.Errorf("render: %w; check that --out %s is writable", err, out)
				}
				fmt.Fprintln(s.Out, dst)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "directory to write the files into (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
