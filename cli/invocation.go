package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// FormatVersion is the version of the JSON documents --json prints
// (docs/json.md). It changes only when a field changes meaning or goes
// away; new fields may appear without it changing.
const FormatVersion = 1

// globalOptions are the flag values of one command line. --json,
// --no-color and --log-format belong to every command; the others are
// registered only on the commands that use them.
type globalOptions struct {
	vars        []string
	varFiles    []string
	root        string
	phase       string
	json        bool
	parallelism int
	noColor     bool
	logFormat   string
	// allowFiles are the directories outside the profile's own that
	// file() may read (--allow-file-outside).
	allowFiles []string
	// arch is the architecture a profile without node.arch is loaded
	// for; "" is this machine's (bundle --arch sets it for each load).
	arch string
	// loadTimeout overrides the bound on evaluating a profile (tests).
	loadTimeout time.Duration
}

// invocation is one run of one command: its flags, its output streams,
// the values it must never print and the JSON document it owes.
type invocation struct {
	raw     Streams
	environ []string
	sys     system
	g       globalOptions

	ready   bool // setup ran
	started bool // the command's own work began: its errors are not usage errors
	command string

	out, err io.Writer // serialised and redacted
	rawOut   io.Writer // stdout serialised only: for a payload that must carry secrets (cloud-init)
	secrets  *secrets
	screen   *screen // download bars at the bottom of a terminal; nil elsewhere
	log      *slog.Logger
	colorOut bool
	colorErr bool

	emitted bool         // the JSON document was written
	diags   []diagnostic // for the JSON document
}

func newInvocation(s Streams, environ []string, sys system) *invocation {
	inv := &invocation{raw: s, environ: environ, sys: sys, secrets: &secrets{unguarded: sys.unguarded}}
	inv.g.logFormat = "text"
	inv.g.root = "/"
	inv.g.phase = "all"
	return inv
}

// getenv reads the command's environment (not the process's: tests pass
// their own).
func (inv *invocation) getenv(name string) string {
	for _, kv := range inv.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// plainTerminal is a terminal that cannot move the cursor (TERM=dumb).
func (inv *invocation) plainTerminal() bool { return inv.getenv("TERM") == "dumb" }

// colorFor says whether w gets colour: a terminal, and neither --no-color,
// NO_COLOR (https://no-color.org) nor TERM=dumb.
func (inv *invocation) colorFor(w io.Writer) bool {
	return !inv.g.noColor && inv.getenv("NO_COLOR") == "" && !inv.plainTerminal() && terminal(w)
}

// setup readies the streams and the logger once the flags are parsed. It
// also runs, with whatever was parsed, when the command line was wrong, so
// that error is reported in the format asked for.
func (inv *invocation) setup(cmd *cobra.Command) error {
	if inv.ready {
		return nil
	}
	inv.ready = true
	inv.command = strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), "nodeup"), " ")
	if inv.command == "" {
		inv.command = "nodeup"
	}
	var err error
	switch inv.g.logFormat {
	case "text", "json":
	default:
		err = usageError{cmd: cmd.CommandPath(), msg: fmt.Sprintf("--log-format %q: use text or json", inv.g.logFormat)}
		inv.g.logFormat = "text"
	}
	inv.colorOut = inv.colorFor(inv.raw.Out)
	inv.colorErr = inv.colorFor(inv.raw.Err)

	mu := &sync.Mutex{}
	out := io.Writer(lockedWriter{mu, inv.raw.Out})
	errw := io.Writer(lockedWriter{mu, inv.raw.Err})
	if inv.g.logFormat == "text" && !inv.plainTerminal() && isTerminal(inv.raw.Err) {
		inv.screen = newScreen(inv.raw.Err, inv.colorErr, inv.secrets.guard)
		errw = inv.screen.writer(inv.raw.Err)
		if isTerminal(inv.raw.Out) {
			out = inv.screen.writer(inv.raw.Out)
		}
	}
	inv.rawOut = out
	inv.out = redactor{out, inv.secrets}
	inv.err = redactor{errw, inv.secrets}
	inv.log = newLogger(inv.err, inv.g.logFormat, !terminal(inv.raw.Err), inv.colorErr)
	return err
}

// close ends what the streams hold back: a partial line, the bars.
func (inv *invocation) close() {
	if inv.screen != nil {
		inv.screen.close()
	}
}

// emitError writes the document of a command that failed before it had a
// result.
func (inv *invocation) emitError(msg string) {
	_ = inv.emitDocument(inv.out, nil, false, msg)
}

// emitDocument writes the document to w: stdout, or for a payload that
// must carry secrets, stdout without the guard (payloadCarrier).
func (inv *invocation) emitDocument(w io.Writer, payload any, ok bool, errMsg string) error {
	fields := map[string]json.RawMessage{}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &fields); err != nil {
			return fmt.Errorf("JSON output of %s is not an object: %w", inv.command, err)
		}
	}
	doc := document{{"format_version", FormatVersion}, {"command", inv.command}, {"ok", ok}}
	names := make([]string, 0, len(fields))
	for k := range fields {
		if k != "ok" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		doc = append(doc, field{k, fields[k]})
	}
	doc = append(doc, field{"diagnostics", inv.jsonDiagnostics()})
	if errMsg != "" {
		doc = append(doc, field{"error", map[string]string{"message": errMsg}})
	}
	inv.emitted = true
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// document is a JSON object whose keys keep their order: the envelope
// first, then the command's fields.
type document []field

type field struct {
	key   string
	value any
}

func (d document) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.value); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonDiagnostics are the diagnostics of the document, [] when none.
func (inv *invocation) jsonDiagnostics() []diagnostic {
	if inv.diags == nil {
		return []diagnostic{}
	}
	return inv.diags
}

// payload is stdout without the stream guard, for output whose purpose is
// to carry the values a node needs (cloud-init user data).
func (inv *invocation) payload() io.Writer { return inv.rawOut }
