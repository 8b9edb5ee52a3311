package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nodeup/nodeup/templates"
	"golang.org/x/term"
)

// redactor replaces the values of sensitive variables in everything it
// writes, so they never reach a terminal, a log or JSON.
type redactor struct {
	w       io.Writer
	secrets []string
}

func (r redactor) Write(b []byte) (int, error) {
	s := string(b)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "(sensitive)")
	}
	if _, err := io.WriteString(r.w, s); err != nil {
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

// terminal is isTerminal seen through the wrappers above, so a progress
// bar and colours survive serialising and redaction.
func terminal(w io.Writer) bool {
	for {
		switch x := w.(type) {
		case lockedWriter:
			w = x.w
		case redactor:
			w = x.w
		default:
			return isTerminal(w)
		}
	}
}

// serialized makes the outputs safe for concurrent use; they share one
// lock, as they may be one writer.
func serialized(s Streams) Streams {
	mu := &sync.Mutex{}
	return Streams{In: s.In, Out: lockedWriter{mu, s.Out}, Err: lockedWriter{mu, s.Err}}
}

func redacted(s Streams, secrets []string) Streams {
	if len(secrets) == 0 {
		return s
	}
	forms := secretForms(secrets)
	return Streams{In: s.In, Out: redactor{s.Out, forms}, Err: redactor{s.Err, forms}}
}

// secretForms lists how sensitive values can be spelled in output: as
// given; as a unit file holds them ("%" and "$" doubled, and backslashes
// and quotes escaped, as templates' execQuote writes an ExecStart
// argument); and each of those as a JSON string escapes it ("&", "<", ">",
// quotes, control characters). Longer forms come first, so no part of one
// survives the replacement of a shorter one.
func secretForms(secrets []string) []string {
	seen := map[string]bool{}
	var forms []string
	for _, secret := range secrets {
		// As written into the kubelet drop-in: escaped, and quoted.
		unit := templates.EscapeSpecifiers(secret)
		for _, f := range []string{secret, unit, templates.EscapeQuoted(unit)} {
			b, _ := json.Marshal(f)
			for _, form := range []string{f, string(b[1 : len(b)-1])} {
				if form != "" && !seen[form] {
					seen[form] = true
					forms = append(forms, form)
				}
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// onceEach prints each distinct warning once per run: the plan pass and the
// apply pass meet the same kernel limits.
func onceEach(print func(msg string)) func(format string, args ...any) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		mu.Lock()
		defer mu.Unlock()
		if !seen[msg] {
			seen[msg] = true
			print(msg)
		}
	}
}

func logLine(w io.Writer, format, level, msg string) {
	if format == "json" {
		b, _ := json.Marshal(map[string]string{"time": time.Now().UTC().Format(time.RFC3339), "level": level, "msg": msg})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", level, msg)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
