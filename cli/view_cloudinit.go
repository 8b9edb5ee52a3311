package cli

import (
	"encoding/base64"

	"github.com/nodeup/nodeup/ops"
)

// cloudInitView is user data: the bytes themselves as text, or in the
// document's user_data (base64 when gzipped). It carries what the node
// needs, sensitive values included, so it goes to stdout unredacted.
type cloudInitView struct{ r *ops.CloudInitReport }

func (v cloudInitView) human(inv *invocation) { _, _ = inv.payload().Write(v.r.UserData) }

func (v cloudInitView) document() any {
	format := "cloud-config"
	if v.r.MIME {
		format = "mime"
	}
	doc := map[string]any{"format": format, "gzip": v.r.Gzip, "bytes": len(v.r.UserData)}
	if v.r.Gzip {
		doc["user_data"] = base64.StdEncoding.EncodeToString(v.r.UserData)
	} else {
		doc["user_data"] = string(v.r.UserData)
	}
	return doc
}

func (v cloudInitView) ok() bool { return true }

func (v cloudInitView) carriesPayload() {}

// binaryOnTerminal says the text form, were it binary, would land on a
// terminal.
func (inv *invocation) binaryOnTerminal() bool { return !inv.g.json && isTerminal(inv.raw.Out) }
