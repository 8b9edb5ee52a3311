// Command mangen writes nodeup's man pages, one per command, from the
// command tree: go run ./internal/mangen DIR (make man).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/nodeup/nodeup/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
}

// write generates the pages into dir. SOURCE_DATE_EPOCH, when set, dates
// them, so a release build is reproducible.
func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	date := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		date = time.Unix(sec, 0).UTC()
	}
	root := cli.NewRootCommand(cli.Streams{Out: os.Stdout, Err: os.Stderr}, os.Environ())
	root.DisableAutoGenTag = true
	escapeMarkdown(root)
	return doc.GenManTree(root, &doc.GenManHeader{Title: "NODEUP", Section: "1", Source: "nodeup", Manual: "nodeup manual", Date: &date}, dir)
}

// escapeMarkdown keeps help text as it reads in --help: the man pages are
// made through Markdown, where NODEUP_VAR_<NAME> would lose its
// underscores and its <NAME>.
func escapeMarkdown(c *cobra.Command) {
	esc := strings.NewReplacer(`_`, `\_`, `<`, `\<`, `*`, `\*`)
	c.Long = esc.Replace(c.Long)
	fix := func(f *pflag.Flag) { f.Usage = esc.Replace(f.Usage) }
	c.LocalNonPersistentFlags().VisitAll(fix)
	c.PersistentFlags().VisitAll(fix)
	for _, sub := range c.Commands() {
		escapeMarkdown(sub)
	}
}
