package tests

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodeup/nodeup/node/images/imagestest"
	"github.com/nodeup/nodeup/tests/testbed"
)

// registryHost is the registry's name on the node: not a loopback name, so
// containerd gives it none of the leniency it gives localhost (plain HTTP,
// no certificate check) and only the registry block makes the pull work.
const registryHost = "registry.nodeup.test"

// TestRegistryPull runs the distribution registry on the host's loopback,
// serving TLS with a private CA, asking clients for a certificate of that
// CA, and basic auth (htpasswd); pushes a one-layer image into it; and on a
// node sharing the host's network, pulls it with crictl through containerd's
// CRI image service. Without a registry block the pull fails (the CA is
// unknown); with the CA and the client pair but no header it fails too (no
// credentials); with the Authorization header it succeeds, and containerd
// holds the pushed manifest.
func TestRegistryPull(t *testing.T) {
	bin := buildNodeup(t)
	pki := newRegistryPKI(t)
	reg := startRegistry(t, pki)
	image := reg.host + "/nodeup/probe:1"
	digest := reg.push(t, "nodeup/probe", "1", imagestest.Image{
		Files: map[string]imagestest.File{"probe": {Content: []byte("pulled from a private registry\n"), Mode: 0o644}},
	})

	n := testbed.Boot(t, testbed.Options{HostNetwork: true, Binds: []testbed.Bind{
		testbed.MirrorBind(t),
		{Host: bin, Node: nodeNodeupDir, ReadOnly: true},
	}})
	hosts, _ := os.ReadFile(n.Path("/etc/hosts"))
	writeNode(t, n, "/etc/hosts", append(hosts, "127.0.0.1 "+registryHost+"\n"...), 0o644)
	dir := "/srv/registry"
	writeNode(t, n, dir+"/ca.pem", pki.caPEM, 0o644)
	writeNode(t, n, dir+"/client.pem", pki.clientPEM, 0o644)
	writeNode(t, n, dir+"/client.key", pki.clientKeyPEM, 0o600)

	auth := base64.StdEncoding.EncodeToString([]byte(reg.user + ":" + reg.password))
	m := testbed.ReadManifest(t)
	apply := func(block string) testbed.Result {
		t.Helper()
		writeNode(t, n, dir+"/profile.hcl", []byte(registryProfile(t, m, block)), 0o644)
		r := n.Exec(nodeNodeup, "apply", dir+"/profile.hcl", "--var", "registry_auth="+auth)
		if r.Code != 0 {
			t.Fatalf("apply: %s\n%s", r, n.Journal("containerd"))
		}
		if strings.Contains(r.Stdout+r.Stderr, auth) || strings.Contains(r.Stdout+r.Stderr, "PRIVATE KEY") {
			t.Errorf("apply printed a secret:\n%s", r)
		}
		return n.Exec(nodeCrictl, "--image-endpoint", "unix:///run/containerd/containerd.sock", "pull", image)
	}
	tlsBlock := fmt.Sprintf(`
  registry %q {
    server      = "https://%s"
    ca          = file("ca.pem")
    client_cert = file("client.pem")
    client_key  = file("client.key")
`, reg.host, reg.host)

	r := apply("")
	t.Logf("without a registry block: %s", r)
	if r.Code == 0 || !strings.Contains(r.Stderr, "x509") {
		t.Errorf("pull without a registry block: want a certificate error, got %s", r)
	}

	r = apply(tlsBlock + "  }\n")
	t.Logf("with the CA and the client pair, without the header: %s", r)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no basic auth credentials") {
		t.Errorf("pull without credentials: want \"no basic auth credentials\", got %s", r)
	}

	r = apply(tlsBlock + `    headers     = { Authorization = "Basic ${var.registry_auth}" }
  }
`)
	t.Logf("with the registry block: %s", r)
	if r.Code != 0 {
		t.Fatalf("pull with the registry block: %s\n%s", r, n.Journal("containerd"))
	}
	out := n.Run(t, nodeCrictl, "--image-endpoint", "unix:///run/containerd/containerd.sock", "inspecti", image)
	if !strings.Contains(out, reg.host+"/nodeup/probe@"+digest) {
		t.Errorf("containerd does not hold the pushed manifest %s:\n%s", digest, out)
	}
	certs := "/etc/containerd/certs.d/" + reg.host
	t.Logf("%s/hosts.toml:\n%s", certs, n.Run(t, "cat", certs+"/hosts.toml"))
	for name, want := range map[string]string{"hosts.toml": "600", "ca.crt": "644", "client.cert": "644", "client.key": "600"} {
		if got := strings.TrimSpace(n.Run(t, "stat", "-c", "%a", certs+"/"+name)); got != want {
			t.Errorf("%s/%s: mode %s, want %s", certs, name, got, want)
		}
	}
}

// registryProfile installs containerd, runc and crictl from the test bed's
// mirror, with block inside the containerd block, and leaves the kernel
// alone.
func registryProfile(t *testing.T, m testbed.Manifest, block string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`variable "registry_auth" { sensitive = true }

# The node shares the host's network: it changes no kernel setting there.
node {
  kernel_modules = []
  sysctl         = {}
}
mirror {
  urls     = ["file://` + testbed.NodeMirrorDir + `"]
  upstream = false
}
`)
	for _, c := range []struct{ name, version, body string }{{"containerd", "2.3.4", block}, {"runc", "", ""}, {"crictl", "", ""}} {
		a := m.Get(t, c.name, c.version)
		fmt.Fprintf(&b, "%s {\n  version = %q\n  sha256  = %q\n%s}\n", c.name, a.Version, a.SHA256, c.body)
	}
	return b.String()
}

func writeNode(t *testing.T, n *testbed.Node, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := n.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// registryPKI is a private CA, the registry's certificate (for registryHost
// and 127.0.0.1) and a client certificate, all signed by the CA.
type registryPKI struct {
	caPEM                   []byte
	serverPEM, serverKeyPEM []byte
	clientPEM, clientKeyPEM []byte
	pool                    *x509.CertPool
	client                  tls.Certificate
}

func newRegistryPKI(t *testing.T) *registryPKI {
	t.Helper()
	now := time.Now()
	serial := int64(0)
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	ca, caKey, caPEM, _ := issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: "nodeup registry test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	_, _, serverPEM, serverKeyPEM := issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: registryHost}, DNSNames: []string{registryHost}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	_, _, clientPEM, clientKeyPEM := issue(&x509.Certificate{
		Subject:  pkix.Name{CommonName: "nodeup node"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
	p := &registryPKI{caPEM: caPEM, serverPEM: serverPEM, serverKeyPEM: serverKeyPEM, clientPEM: clientPEM, clientKeyPEM: clientKeyPEM, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	var err error
	if p.client, err = tls.X509KeyPair(clientPEM, clientKeyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

// testRegistry is a running distribution registry.
type testRegistry struct {
	host           string // registryHost:PORT
	base           string // https://127.0.0.1:PORT, for the test's own requests
	user, password string
	client         *http.Client
}

// registryListening is the line the registry logs once it accepts connections.
var registryListening = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+), tls`)

// startRegistry runs the registry on a port of the host's loopback the
// kernel picks, and returns once it logs that it listens there. It is
// stopped when the test ends.
func startRegistry(t *testing.T, pki *registryPKI) *testRegistry {
	t.Helper()
	bin := testbed.RegistryBin(t)
	dir := t.TempDir()
	reg := &testRegistry{user: "nodeup", password: hex.EncodeToString(randomBytes(t, 12))}
	line, err := exec.Command(filepath.Join(bin, "htpasswd"), reg.user, reg.password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	files := map[string][]byte{
		"ca.pem": pki.caPEM, "server.pem": pki.serverPEM, "server.key": pki.serverKeyPEM, "htpasswd": line,
		"config.yml": []byte(fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %[1]s/storage
http:
  addr: 127.0.0.1:0
  secret: nodeup-registry-test
  tls:
    certificate: %[1]s/server.pem
    key: %[1]s/server.key
    clientcas: [%[1]s/ca.pem]
auth:
  htpasswd:
    realm: nodeup-registry-test
    path: %[1]s/htpasswd
`, dir)),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "registry"), "serve", filepath.Join(dir, "config.yml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var log bytes.Buffer
	port := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := registryListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("registry log:\n%s", log.String())
		}
	})
	select {
	case p := <-port:
		reg.host = registryHost + ":" + p
		reg.base = "https://127.0.0.1:" + p
	case <-exited:
		t.Fatalf("registry exited before it listened:\n%s", log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("registry did not listen within 60s")
	}
	reg.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}},
	}}
	return reg
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// push uploads an image with the registry's HTTP API (OCI distribution
// spec): each blob by a monolithic upload (POST, then PUT with its
// digest), then the manifest under tag. It returns the manifest's digest.
func (reg *testRegistry) push(t *testing.T, repo, tag string, im imagestest.Image) string {
	t.Helper()
	manifest, blobs := im.Manifest()
	for _, b := range blobs {
		resp := reg.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", "", nil, http.StatusAccepted)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatalf("upload location %q: %v", resp.Header.Get("Location"), err)
		}
		q := loc.Query()
		q.Set("digest", digestOf(b))
		loc.RawQuery = q.Encode()
		reg.do(t, "PUT", loc.String(), "application/octet-stream", b, http.StatusCreated)
	}
	reg.do(t, "PUT", "/v2/"+repo+"/manifests/"+tag, imagestest.ManifestMediaType, manifest, http.StatusCreated)
	return digestOf(manifest)
}

// do sends an authenticated request to the registry (target is a path, or
// a URL the registry gave) and fails t unless it answers want.
func (reg *testRegistry) do(t *testing.T, method, target, contentType string, body []byte, want int) *http.Response {
	t.Helper()
	base, _ := url.Parse(reg.base)
	u, err := base.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	// The registry names itself by the host the request used.
	u.Scheme, u.Host = base.Scheme, base.Host
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(reg.user, reg.password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := reg.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", method, target, resp.Status, want, msg)
	}
	return resp
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
