package templates

import (
	"bytes"
	"fmt"
	"strings"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/nodeup/nodeup/profile"
)

// Docker Hub's registry answers at another host than the name images use.
const (
	dockerHubHost   = "docker.io"
	dockerHubServer = "https://registry-1.docker.io"
)

// DefaultRegistryHost names the certs.d directory containerd reads for every
// registry without a directory of its own.
const DefaultRegistryHost = "_default"

// hostsServer is the top of a hosts.toml: the registry itself, tried last.
// In the _default directory there is no server: it is the registry each
// pull names, and the top's settings apply to it.
type hostsServer struct {
	Server     string `toml:"server,omitempty"`
	SkipVerify bool   `toml:"skip_verify,omitempty"`
}

// hostsMirror is one [host."URL"] table of a hosts.toml.
type hostsMirror struct {
	Capabilities []string `toml:"capabilities"`
	SkipVerify   bool     `toml:"skip_verify,omitempty"`
}

// HostsTOML renders containerd's certs.d/HOST/hosts.toml for a registry
// block: the upstream server (docker.io's is registry-1.docker.io) and one
// host table per mirror, in the profile's order, since containerd tries the
// hosts in the order the file lists them. Mirrors may pull and resolve;
// skip_verify is written only when set, for the server (the top of the
// file, as containerd's docs/hosts.md has it) and for each mirror. The
// "_default" registry applies to every registry without its own directory,
// so it names no server: each pull falls back to its own registry after the
// mirrors, with the top's settings.
func HostsTOML(r profile.Registry) ([]byte, error) {
	if r.Host == "" {
		return nil, fmt.Errorf("hosts.toml: registry has no host")
	}
	var b bytes.Buffer
	b.WriteString("# " + header + "\n")
	top := hostsServer{SkipVerify: r.SkipVerify}
	if r.Host != DefaultRegistryHost {
		top.Server = "https://" + r.Host
		if r.Host == dockerHubHost {
			top.Server = dockerHubServer
		}
	}
	if top != (hostsServer{}) {
		b.WriteString("\n")
		if err := toml.NewEncoder(&b).Encode(top); err != nil {
			return nil, fmt.Errorf("hosts.toml: %w", err)
		}
	}
	// go-toml sorts map keys, which would lose the mirror order: each table
	// is written on its own under a header quoted by go-toml.
	for _, m := range r.Mirrors {
		key, err := tomlQuote(m)
		if err != nil {
			return nil, fmt.Errorf("hosts.toml: mirror %q: %w", m, err)
		}
		fmt.Fprintf(&b, "\n[host.%s]\n", key)
		enc := toml.NewEncoder(&b)
		if err := enc.Encode(hostsMirror{Capabilities: []string{"pull", "resolve"}, SkipVerify: r.SkipVerify}); err != nil {
			return nil, fmt.Errorf("hosts.toml: %w", err)
		}
	}
	return b.Bytes(), nil
}

// tomlQuote is s as a TOML string (usable as a quoted key), quoted by go-toml.
func tomlQuote(s string) (string, error) {
	out, err := toml.Marshal(map[string]string{"k": s})
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(out), "k = "), "\n"), nil
}
