package cli

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// redactor is the last guard on an output stream: it replaces every
// spelling of a sensitive value long enough to be told from other text.
// Values are kept out of output where they enter (diagnostics, step
// results, diffs); this catches what a message repeats on its way out.
type redactor struct {
	w       io.Writer
	secrets *secrets
}

func (r redactor) Write(b []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.secrets.guard(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// lockedWriter serialises writes to a stream: steps run in parallel and
// log, warn and show download progress at once, and an injected stream (a
// test's buffer) need not be safe for concurrent use.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// terminal is isTerminal seen through the wrappers above, so progress bars
// and colours survive serialising and redaction.
func terminal(w io.Writer) bool {
	for {
		switch x := w.(type) {
		case lockedWriter:
			w = x.w
		case redactor:
			w = x.w
		case *screenWriter:
			w = x.w
		default:
			return isTerminal(w)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth is the width of the terminal behind w, 80 if unknown.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}
