package templates

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strconv"
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

// keyMode is the mode of a client key written beside hosts.toml.
const keyMode fs.FileMode = 0o600

// mirrorCapabilities are those of a mirror that names none: it may pull
// and resolve tags, but not be pushed to.
var mirrorCapabilities = []string{profile.CapabilityPull, profile.CapabilityResolve}

// hostsTable is the top of a hosts.toml (the server) or one [host."URL"]
// table: the keys of containerd's docs/hosts.md, in the order written.
// Certificates and keys are named by paths relative to hosts.toml, which
// containerd resolves against the file's directory on every OS.
type hostsTable struct {
	Server       string     `toml:"server,omitempty"`
	Capabilities []string   `toml:"capabilities,omitempty"`
	CA           string     `toml:"ca,omitempty"`
	Client       [][]string `toml:"client,omitempty"`
	SkipVerify   bool       `toml:"skip_verify,omitempty"`
	OverridePath bool       `toml:"override_path,omitempty"`
}

// RegistryFiles renders a registry block's files into dir, its certs.d
// directory: hosts.toml, and beside it each certificate (0644) and client
// key (0600) it names.
//
// hosts.toml lists the server (server, else HOST's upstream: docker.io's is
// registry-1.docker.io) with its settings at the top, then one host table
// per mirror in the order containerd tries them: the mirrors, then the host
// blocks not among them, each in the profile's order. A mirror without a
// host block of its own may pull and resolve and takes the registry's
// skip_verify. The "_default" registry applies to every registry without a
// directory of its own, so without a server it names none: each pull falls
// back to its own registry after the mirrors, with the top's settings.
func RegistryFiles(dir string, r profile.Registry) ([]File, error) {
	hosts, certs, err := registryFiles(r)
	if err != nil {
		return nil, err
	}
	files := []File{{Path: path.Join(dir, hostsFileName), Mode: fileMode, Content: hosts}}
	for _, c := range certs {
		c.Path = path.Join(dir, c.Path)
		files = append(files, c)
	}
	return files, nil
}

// registryFiles renders hosts.toml, and the files it names with their
// paths relative to it.
func registryFiles(r profile.Registry) ([]byte, []File, error) {
	if r.Host == "" {
		return nil, nil, fmt.Errorf("hosts.toml: registry has no host")
	}
	var b bytes.Buffer
	var certs []File
	b.WriteString("# " + header + "\n")

	top, topCerts := table("", r.HostSettings)
	certs = append(certs, topCerts...)
	top.Server = r.Server
	if top.Server == "" && r.Host != DefaultRegistryHost {
		top.Server = "https://" + r.Host
		if r.Host == dockerHubHost {
			top.Server = dockerHubServer
		}
	}
	if !isZero(top) {
		b.WriteString("\n")
		if err := toml.NewEncoder(&b).Encode(top); err != nil {
			return nil, nil, fmt.Errorf("hosts.toml: %w", err)
		}
	}
	if err := writeHeaders(&b, "header", r.Headers); err != nil {
		return nil, nil, err
	}

	// go-toml sorts map keys, which would lose the mirror order: each table
	// is written on its own under a header quoted by go-toml.
	stems := map[string]bool{}
	for _, h := range hostTables(r) {
		key, err := tomlQuote(h.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("hosts.toml: mirror %q: %w", h.URL, err)
		}
		t, hostCerts := table(fileStem(h.URL, stems)+".", h.HostSettings)
		certs = append(certs, hostCerts...)
		if t.Capabilities == nil {
			t.Capabilities = mirrorCapabilities
		}
		fmt.Fprintf(&b, "\n[host.%s]\n", key)
		if err := toml.NewEncoder(&b).Encode(t); err != nil {
			return nil, nil, fmt.Errorf("hosts.toml: %w", err)
		}
		if err := writeHeaders(&b, "host."+key+".header", h.Headers); err != nil {
			return nil, nil, err
		}
	}
	return b.Bytes(), certs, nil
}

// hostTables are a registry's [host."URL"] tables in the order containerd
// tries them: the mirrors, each with its host block's settings if it has
// one, then the other host blocks.
func hostTables(r profile.Registry) []profile.RegistryHost {
	blocks := map[string]profile.RegistryHost{}
	for _, h := range r.Hosts {
		blocks[h.URL] = h
	}
	var out []profile.RegistryHost
	listed := map[string]bool{}
	for _, m := range r.Mirrors {
		h, ok := blocks[m]
		if !ok {
			h = profile.RegistryHost{URL: m, HostSettings: profile.HostSettings{SkipVerify: r.SkipVerify}}
		}
		listed[m] = true
		out = append(out, h)
	}
	for _, h := range r.Hosts {
		if !listed[h.URL] {
			out = append(out, h)
		}
	}
	return out
}

// table is the hosts.toml table of one host's settings, and the files it
// names: prefix + ca.crt, client.cert and client.key.
func table(prefix string, s profile.HostSettings) (hostsTable, []File) {
	t := hostsTable{Capabilities: s.Capabilities, SkipVerify: s.SkipVerify, OverridePath: s.OverridePath}
	var files []File
	if s.CA != "" {
		t.CA = prefix + "ca.crt"
		files = append(files, File{Path: t.CA, Mode: fileMode, Content: []byte(s.CA)})
	}
	if s.ClientCert != "" {
		pair := []string{prefix + "client.cert", prefix + "client.key"}
		t.Client = [][]string{pair}
		files = append(files,
			File{Path: pair[0], Mode: fileMode, Content: []byte(s.ClientCert)},
			File{Path: pair[1], Mode: keyMode, Content: []byte(s.ClientKey)})
	}
	return t, files
}

func isZero(t hostsTable) bool {
	return t.Server == "" && t.Capabilities == nil && t.CA == "" && t.Client == nil && !t.SkipVerify && !t.OverridePath
}

// writeHeaders writes a [header] table: a header of one value as a
// string, one of several as an array, as containerd reads both.
func writeHeaders(b *bytes.Buffer, key string, headers map[string][]string) error {
	if len(headers) == 0 {
		return nil
	}
	m := map[string]any{}
	for name, values := range headers {
		if len(values) == 1 {
			m[name] = values[0]
		} else {
			m[name] = values
		}
	}
	fmt.Fprintf(b, "\n[%s]\n", key)
	if err := toml.NewEncoder(b).Encode(m); err != nil {
		return fmt.Errorf("hosts.toml: %w", err)
	}
	return nil
}

// notInFileName is what a host URL loses in the names of its files.
var notInFileName = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// fileStem names the files of a host table after its URL's host and path
// (https://mirror.internal:5000 -> mirror.internal_5000), numbered when
// two URLs would share a name; used records the names taken.
func fileStem(raw string, used map[string]bool) string {
	name := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		name = u.Host + u.Path
	}
	name = strings.Trim(notInFileName.ReplaceAllString(name, "_"), "_.")
	if name == "" {
		name = "host"
	}
	stem := name
	for i := 2; used[stem]; i++ {
		stem = name + "-" + strconv.Itoa(i)
	}
	used[stem] = true
	return stem
}

// tomlQuote is s as a TOML string (usable as a quoted key), quoted by go-toml.
func tomlQuote(s string) (string, error) {
	out, err := toml.Marshal(map[string]string{"k": s})
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimPrefix(string(out), "k = "), "\n"), nil
}
