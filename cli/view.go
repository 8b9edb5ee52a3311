package cli

// A view shows one command's report: as text for a person, or as the
// fields of the command's JSON document for a program. show is the one
// place that picks the form, and emit the one envelope around the fields.
type view interface {
	// human writes the report as text on stdout.
	human(inv *invocation)
	// document is the payload of the JSON document.
	document() any
	// ok is the document's ok.
	ok() bool
}

// noter is a view with lines that, beside a JSON document, are said on
// stderr as log records (stdout holds the one document).
type noter interface {
	notes() []string
}

// payloadCarrier is a view whose report is a payload for a node (cloud-init
// user data): it carries the values the node needs, sensitive ones
// included, so its document goes to stdout without the stream guard.
type payloadCarrier interface {
	carriesPayload()
}

// show renders v in the form this run asks for.
func (inv *invocation) show(v view) error {
	if !inv.g.json {
		v.human(inv)
		return nil
	}
	if n, ok := v.(noter); ok {
		for _, line := range n.notes() {
			inv.log.Info(line)
		}
	}
	w := inv.out
	if _, ok := v.(payloadCarrier); ok {
		w = inv.payload()
	}
	return inv.emitDocument(w, v.document(), v.ok(), "")
}

// printer writes step lines to stdout, coloured on a terminal, stamped
// when stdout is a log.
func (inv *invocation) printer() printer {
	return printer{w: inv.out, color: painter(inv.colorOut), stamp: !terminal(inv.raw.Out)}
}
