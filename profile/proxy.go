package profile

import "github.com/hashicorp/hcl/v2"

// Proxy is node.proxy: the HTTP proxy containerd and the kubelet use to
// reach registries and the API server.
type Proxy struct {
	HTTP  string
	HTTPS string
	// NoProxy is the list as written; the rendered list adds what the
	// profile knows of the node and the cluster (templates.NoProxy).
	NoProxy   []string
	DeclRange hcl.Range // where node.proxy was written
}
