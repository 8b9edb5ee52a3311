package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpView is a command's help: the text cobra prints, or, with --json,
// its usage, subcommands and flags as a document.
type helpView struct{ cmd *cobra.Command }

type helpCommand struct {
	Name  string `json:"name"`
	Short string `json:"short"`
}

type helpFlag struct {
	Name      string `json:"name"`
	Shorthand string `json:"shorthand,omitempty"`
	Default   string `json:"default,omitempty"`
	Usage     string `json:"usage"`
}

// human prints cobra's own help: the root's help function is nodeup's
// only while it is asked for a form.
func (v helpView) human(inv *invocation) {
	root := v.cmd.Root()
	root.SetHelpFunc(nil)
	defer root.SetHelpFunc(inv.help)
	_ = v.cmd.Help()
}

func (v helpView) document() any {
	c := v.cmd
	commands := []helpCommand{}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			commands = append(commands, helpCommand{Name: sub.Name(), Short: sub.Short})
		}
	}
	flags := []helpFlag{}
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			flags = append(flags, helpFlag{Name: f.Name, Shorthand: f.Shorthand, Default: f.DefValue, Usage: f.Usage})
		}
	}
	c.NonInheritedFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	return map[string]any{"usage": c.UseLine(), "short": c.Short, "long": c.Long, "example": c.Example,
		"commands": commands, "flags": flags}
}

func (v helpView) ok() bool { return true }

// help shows a command's help in the form this run asks for: --help --json
// and nodeup --json give a document, like every other command.
func (inv *invocation) help(c *cobra.Command, _ []string) {
	_ = inv.setup(c)
	inv.started = true
	_ = inv.show(helpView{c})
}
