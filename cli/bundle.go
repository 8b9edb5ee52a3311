package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/bundle"
	"github.com/nodeup/nodeup/node/fetch"
	"github.com/nodeup/nodeup/ops"
)

type bundleOptions struct {
	out, cacheDir string
	arches        []string
	binaries      []string // ARCH=FILE
	from          []string
	list          bool
}

func (inv *invocation) bundleCommand() *cobra.Command {
	var o bundleOptions
	cmd := &cobra.Command{
		Use:   "bundle PROFILE -o DIR|FILE.tar",
		Short: "Write every artifact the profile needs as a mirror (a directory or a tar), with nodeup and the profile",
		Long: "bundle downloads (or takes from the cache) every artifact of the profile and the archive of\n" +
			"each image block, checks its sha256, and writes them in the mirror layout HOST/PATH (an image\n" +
			"archive at images/NAME/TAG.tar, or at its url's HOST/PATH), beside nodeup/nodeup-linux-ARCH,\n" +
			"the profile in profile/ (its files and the values given now, as nodeup cloud-init carries\n" +
			"it) and manifest.json (component, version, arch, image, sha256 and size of every file). An\n" +
			"image archive serves every architecture: it must hold the image for each. The result is a\n" +
			"mirror: mirror { urls = [\"file:///srv/bundle\"] }, or file:///srv/bundle.tar for the tar,\n" +
			"or any static web server for the directory. Check one with nodeup bundle verify.\n\n" +
			"The profile's values may be secrets: the bundle holds them in profile/nodeup.auto.vars.hcl.",
		Example: `  nodeup bundle node.hcl -o /srv/nodeup
  nodeup bundle node.hcl -o nodeup-bundle.tar --arch amd64 --arch arm64 --nodeup-binary arm64=bin/nodeup-linux-arm64
  nodeup bundle node.hcl -o nodeup-bundle.tar --cache /var/tmp/nodeup-cache --json
  nodeup bundle node.hcl --list --arch amd64 --arch arm64
  nodeup bundle node.hcl -o nodeup-bundle.tar --from https://artifacts.internal/mirror
  nodeup bundle airgapped.hcl -o nodeup-bundle.tar --from upstream
  nodeup bundle verify nodeup-bundle.tar`,
		Args:              onePROFILE,
		ValidArgsFunction: profileArg,
		RunE: inv.action(func(cmd *cobra.Command, args []string) error {
			if o.list {
				return inv.runBundleList(o, args[0])
			}
			if o.out == "" {
				return usageError{cmd: cmd.CommandPath(), msg: `required flag(s) "output" not set`}
			}
			return inv.runBundle(o, args[0])
		}),
	}
	inv.profileFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.out, "output", "o", "", "directory, or FILE.tar, to write (required, unless --list)")
	f.BoolVar(&o.list, "list", false, "list every file the bundle would hold (component, version, arch, URL, mirror path, sha256) and where it comes from; download nothing")
	f.StringArrayVar(&o.from, "from", nil, "take the artifacts from `URL` first, a mirror in the bundle's layout (URL/HOST/PATH: another bundle, an internal mirror), or from upstream (--from upstream), whatever the profile's mirror block says; repeatable")
	f.StringVar(&o.cacheDir, "cache", "", "download cache (default: the user cache directory)")
	f.StringArrayVar(&o.arches, "arch", nil, "bundle the artifacts for `ARCH` (amd64, arm64; repeatable; default: the profile's)")
	f.StringArrayVar(&o.binaries, "nodeup-binary", nil, "put `ARCH=FILE` in the bundle as nodeup for ARCH (repeatable; default: this nodeup, for its own architecture)")
	f.IntVar(&inv.g.parallelism, "parallelism", 0, "downloads run at once (0: twice the number of CPUs)")
	_ = cmd.RegisterFlagCompletionFunc("cache", dirs)
	_ = cmd.RegisterFlagCompletionFunc("arch", fixedCompletion("amd64", "arm64"))
	_ = cmd.RegisterFlagCompletionFunc("parallelism", cobra.NoFileCompletions)
	cmd.AddCommand(inv.bundleVerifyCommand())
	return cmd
}

// runBundle writes the bundle and lists what it holds.
func (inv *invocation) runBundle(o bundleOptions, profilePath string) error {
	binaries, err := parseBinaries(o.binaries)
	if err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := ops.Bundle(ctx, cfg, ops.BundleOptions{Path: profilePath, Out: o.out, CacheDir: o.cacheDir,
		Arches: o.arches, Binaries: binaries, Version: nodeupVersion(), From: o.from})
	if err != nil {
		return err
	}
	return inv.show(bundleView{r})
}

// runBundleList says what the bundle would hold, downloading nothing.
func (inv *invocation) runBundleList(o bundleOptions, profilePath string) error {
	if err := o.check(); err != nil {
		return err
	}
	cfg, err := inv.config()
	if err != nil {
		return err
	}
	l, err := ops.ListBundle(cfg, ops.BundleOptions{Path: profilePath, Arches: o.arches, From: o.from})
	if err != nil {
		return err
	}
	return inv.show(bundleListView{l})
}

// check reads --arch, and --from as a profile's mirror block takes mirrors.
func (o bundleOptions) check() error {
	for _, a := range o.arches {
		if a != "amd64" && a != "arm64" {
			return fmt.Errorf("--arch %q: use amd64 or arm64", a)
		}
	}
	for _, f := range o.from {
		if f == ops.FromUpstream {
			continue
		}
		if err := fetch.CheckSource(f); err != nil {
			return fmt.Errorf("--from %q: want an http://, https:// or file:///absolute/path URL of a mirror (or a bundle) in the mirror layout: %v", printable(f), err)
		}
	}
	return nil
}

// parseBinaries reads --nodeup-binary ARCH=FILE flags.
func parseBinaries(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		arch, file, ok := strings.Cut(f, "=")
		if !ok || (arch != "amd64" && arch != "arm64") || file == "" {
			return nil, fmt.Errorf("--nodeup-binary %q: want ARCH=FILE with ARCH amd64 or arm64, e.g. --nodeup-binary arm64=bin/nodeup-linux-arm64", f)
		}
		out[arch] = file
	}
	return out, nil
}

func (inv *invocation) bundleVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR|FILE.tar",
		Short: "Check a bundle against its manifest: every file there, with its size and sha256, and nothing else",
		Long: "verify reads the bundle's " + bundle.ManifestName + " and checks that the bundle holds exactly the\n" +
			"files it lists, each with its size and sha256, and that nodeup can read its format. One\n" +
			"line per file; exit 1 when any does not match. Run it on the machine the bundle was\n" +
			"carried to, before using it as a mirror.",
		Example: `  nodeup bundle verify /srv/nodeup
  nodeup bundle verify nodeup-bundle.tar
  ./nodeup/nodeup-linux-amd64 bundle verify nodeup-bundle.tar --json`,
		Args: oneBUNDLE,
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"tar"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: inv.action(func(_ *cobra.Command, args []string) error {
			r, err := ops.VerifyBundle(args[0])
			if err != nil {
				return err
			}
			v := bundleVerifyView{path: args[0], r: r}
			if err := inv.show(v); err != nil {
				return err
			}
			return v.err()
		}),
	}
}

// oneBUNDLE takes the one bundle argument.
func oneBUNDLE(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("want one bundle argument (a directory, or a .tar file), got %d", len(args))}
	}
	return nil
}
