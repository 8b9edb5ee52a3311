package cli

import (
	"github.com/nodeup/nodeup/internal/escape"
)

// printable makes untrusted text safe for a terminal (escape.Text):
// newlines and tabs stay.
func printable(s string) string { return escape.Text(s) }

// Colours of the terminal output.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
	bold   = "1"
)

func paint(color, s string) string { return "\x1b[" + color + "m" + s + "\x1b[0m" }

// painter paints when colour is on.
type painter bool

func (p painter) paint(color, s string) string {
	if !p {
		return s
	}
	return paint(color, s)
}
