package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodeup/nodeup/steps"
)

// Flags shared by several commands, each registered only where it means
// something.

// profileFlags are the variables of a profile: --var and --var-file.
func (inv *invocation) profileFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&inv.g.vars, "var", nil, "set a profile variable: NAME=VALUE (repeatable; also NODEUP_VAR_<NAME>)")
	f.StringArrayVar(&inv.g.varFiles, "var-file", nil, "read profile variables from an HCL file of NAME = VALUE lines (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("var-file", hclFiles)
	f.StringArrayVar(&inv.g.allowFiles, "allow-file-outside", nil, "let file() in the profile read files below DIR too (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("allow-file-outside", dirs)
}

// rootFlag is --root: the node's / on this machine.
func (inv *invocation) rootFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&inv.g.root, "root", "/", "treat DIR as the node's / (an image, a chroot); implies no D-Bus when not /")
	_ = cmd.RegisterFlagCompletionFunc("root", dirs)
}

// phaseFlag is --phase.
func (inv *invocation) phaseFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&inv.g.phase, "phase", "all", "bake (install, write, enable; start nothing) | boot (start and verify) | all")
	_ = cmd.RegisterFlagCompletionFunc("phase", fixedCompletion(string(steps.PhaseBake), string(steps.PhaseBoot), string(steps.PhaseAll)))
}

// parallelismFlag is --parallelism.
func (inv *invocation) parallelismFlag(cmd *cobra.Command) {
	cmd.Flags().IntVar(&inv.g.parallelism, "parallelism", 0, "steps run at once (0: twice the number of CPUs)")
	_ = cmd.RegisterFlagCompletionFunc("parallelism", cobra.NoFileCompletions)
}

func parsePhase(p string) (steps.Phase, error) {
	switch steps.Phase(p) {
	case steps.PhaseBake, steps.PhaseBoot, steps.PhaseAll:
		return steps.Phase(p), nil
	}
	return "", fmt.Errorf("--phase %q: use bake, boot or all", printable(p))
}

// Completion.

// fixedCompletion completes a flag's value from a fixed list.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// hclFiles completes profiles: *.hcl files and directories.
func hclFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"hcl"}, cobra.ShellCompDirectiveFilterFileExt
}

func dirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// profileArg completes the one PROFILE argument.
func profileArg(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return hclFiles(nil, args, toComplete)
}

// Argument counts, with a hint instead of cobra's bare message.

func onePROFILE(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("want one PROFILE argument (a file, or a directory of *.hcl files), got %d", len(args))}
	}
	return nil
}

func optionalPROFILE(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("want at most one PROFILE argument, got %d", len(args))}
	}
	return nil
}

func somePROFILEs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageError{cmd: cmd.CommandPath(), msg: "want at least one PROFILE argument (files, or directories of *.hcl files)"}
	}
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("takes no arguments, got %q", printable(args[0]))}
	}
	return nil
}
