package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

var creds = map[string]string{envUser: "node", envPassword: "s3cret"}

// The response is in the request's version, for the image's registry,
// with the credentials of the environment; each image asked for is logged.
func TestAnswersWithTheEnvironmentsCredentials(t *testing.T) {
	log := filepath.Join(t.TempDir(), "asked")
	e := map[string]string{envLog: log}
	for k, v := range creds {
		e[k] = v
	}
	for image, host := range map[string]string{
		"registry.internal:5000/busybox:1.36":   "registry.internal:5000",
		"123.dkr.ecr.us-east-1.amazonaws.com/a": "123.dkr.ecr.us-east-1.amazonaws.com",
		"localhost/pause:3.10":                  "localhost",
		"busybox:1.36":                          "docker.io",
		"library/busybox":                       "docker.io",
	} {
		for _, version := range apiVersions {
			var out bytes.Buffer
			in := `{"apiVersion":"` + version + `","kind":"CredentialProviderRequest","image":"` + image + `"}`
			if err := run(strings.NewReader(in), &out, env(e)); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("%s: %v", out.String(), err)
			}
			want := map[string]any{
				"apiVersion": version, "kind": "CredentialProviderResponse", "cacheKeyType": "Registry",
				"auth": map[string]any{host: map[string]any{"username": "node", "password": "s3cret"}},
			}
			if g, w := jsonText(got), jsonText(want); g != w {
				t.Errorf("%s:\n got %s\nwant %s", in, g, w)
			}
		}
	}
	b, err := os.ReadFile(log)
	if err != nil || strings.Count(string(b), "registry.internal:5000/busybox:1.36\n") != len(apiVersions) {
		t.Errorf("the log: %v %q", err, b)
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// What the provider cannot answer is an error, and nothing on stdout.
func TestRefusesWhatItCannotAnswer(t *testing.T) {
	for in, e := range map[string]map[string]string{
		`not json`: creds,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v2","kind":"CredentialProviderRequest","image":"r.io/a"}`: creds,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Pod","image":"r.io/a"}`:                       creds,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}`:                  creds,
		`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"r.io/a"}`: {envUser: "node"},
	} {
		var out bytes.Buffer
		if err := run(strings.NewReader(in), &out, env(e)); err == nil || out.Len() != 0 {
			t.Errorf("%s: %v, stdout %q", in, err, out.String())
		}
	}
}

// As the kubelet runs it: a process, the request on stdin, the answer on
// stdout, exit status 0; 1 with a message on stderr when it cannot answer.
func TestAsAProcess(t *testing.T) {
	if os.Getenv("CREDPROVIDER_RUN_MAIN") == "1" {
		main()
		return
	}
	for _, tc := range []struct {
		env  []string
		fail bool
	}{{[]string{envUser + "=node", envPassword + "=s3cret"}, false}, {nil, true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAsAProcess$")
		cmd.Env = append([]string{"CREDPROVIDER_RUN_MAIN=1"}, tc.env...)
		cmd.Stdin = strings.NewReader(`{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"registry.internal:5000/a"}`)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		switch {
		case tc.fail && (err == nil || !strings.Contains(stderr.String(), envUser)):
			t.Errorf("without credentials: %v, stderr %q", err, stderr.String())
		case !tc.fail && (err != nil || !strings.Contains(stdout.String(), `"registry.internal:5000":{"username":"node","password":"s3cret"}`)):
			t.Errorf("%v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
		}
	}
}
