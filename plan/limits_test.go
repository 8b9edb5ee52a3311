package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// loadText loads src as a profile file in a fresh directory and returns the
// error diagnostics rendered as text, as the CLI prints them.
func loadText(t *testing.T, src string, opts Options) (string, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "profile.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadPath(t, p, opts)
}

func loadPath(t *testing.T, p string, opts Options) (string, hcl.Diagnostics) {
	t.Helper()
	opts.HostArch = "amd64"
	done := make(chan struct{})
	var loaded *Loaded
	var diags hcl.Diagnostics
	go func() {
		defer close(done)
		loaded, diags = Load(p, opts)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Load did not return")
	}
	var b bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&b, loaded.Files, 0, false)
	for _, d := range diags {
		if d.Subject != nil {
			b.WriteString(d.Subject.String() + ": ")
		}
		w.WriteDiagnostic(d)
	}
	return b.String(), diags
}

const minimal = "containerd { version = \"2.3.4\" }\n"

// Hostile profiles end in an error at their file and line, at once: no
// stack overflow, no endless number formatting.
func TestProfileLimits(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"nested 100000 levels", "x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			"profile.hcl:1,69-70: Error: Profile nested too deeply"},
		{"nested templates", `x = "` + strings.Repeat(`${"`, 50000) + strings.Repeat(`"}`, 50000) + "\"\n",
			": Profile nested too deeply"},
		{"100000 negations", "x = " + strings.Repeat("!", 100000) + "true\n", "Too many operators"},
		{"huge exponent", "containerd {\n  version = \"2.3.4\"\n  config_version = 1e99999999\n}\n",
			"profile.hcl:3,20-30: Error: Number too large"},
		{"huge exponent in a string", "containerd {\n  version = \"2.3.4\"\n  config_version = \"1e99999999\"\n}\n",
			"profile.hcl:3,21-31: Error: Number too large"},
		{"huge computed number", minimal + "node {\n  sysctl = { \"net.x\" = 1e999 * 1e999 * 1e999 * 1e999 * 1e999 }\n}\n",
			"profile.hcl:3,12-63: Error: Number too large"},
		{"huge number from text", minimal + "kubelet {\n  config = { maxPods = \"1e900\" * \"1e900\" * \"1e900\" * \"1e900\" }\n}\n",
			"Number too large"},
		{"indent bomb", "containerd {\n  version = \"2.3.4\"\n  sandbox_image = indent(999999999, \"a\\nb\")\n}\n",
			"the result would be larger than 4 MiB"},
		{"doubling", "variable \"a\" { default = \"" + strings.Repeat("x", 600<<10) + "\" }\n" + minimal +
			"node {\n  sysctl = { \"net.x\" = join(\"\", [var.a, var.a, var.a, var.a, var.a, var.a, var.a, var.a]) }\n}\n", "the result would be larger than 4 MiB"},
		{"too many tokens", minimal + "node {\n  kernel_modules = [" + strings.Repeat("\"m\",", 40000) + "]\n}\n", "Profile too long"},
		{"too large", minimal + "# " + strings.Repeat("x", MaxFileSize) + "\n", "larger than 1024 KiB"},
		// Every value an expression builds is bounded, not only what one
		// function returns: a million bounded calls, a nested for over
		// literals, a range of a billion.
		{"for over format", minimal + "kubelet {\n  flags = flatten([for i in range(1024) : [for j in range(1024) : format(\"--x%01000000d\", j)]])\n}\n",
			"profile.hcl:3,"},
		{"nested for without functions", minimal + "kubelet {\n  flags = [for a in [" + strings.Repeat("1,", 2000) + "] : [for b in [" + strings.Repeat("1,", 2000) + "] : \"--x\"]]\n}\n",
			"profile.hcl:3,11-"},
		{"range of a billion", minimal + "kubelet {\n  flags = [for i in range(1000000000) : \"--x\"]\n}\n", "larger than 4 MiB"},
		{"template over a for", "variable \"a\" { default = \"" + strings.Repeat("x", 8<<10) + "\" }\n" + minimal +
			"kubelet {\n  flags = [for i in range(1000) : \"${var.a}${var.a}\"]\n}\n", "Error: Value too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			text, diags := loadText(t, c.src, Options{})
			if !diags.HasErrors() || !strings.Contains(text, c.want) {
				t.Errorf("got:\n%.2000s\nwant an error with %q", text, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// A fifo or a device as a profile or variables file is refused at once.
func TestProfileFilesMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "profile.hcl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	text, diags := loadPath(t, fifo, Options{})
	if !diags.HasErrors() || !strings.Contains(text, fifo+" is a fifo, not a regular file") {
		t.Errorf("fifo profile: %s", text)
	}
	p := filepath.Join(t.TempDir(), "p.hcl")
	os.WriteFile(p, []byte("variable \"v\" { default = \"x\" }\n"+minimal), 0o644)
	text, diags = loadPath(t, p, Options{VarFiles: []string{fifo, "/dev/zero"}})
	for _, want := range []string{fifo + " is a fifo, not a regular file", "/dev/zero is a device, not a regular file"} {
		if !diags.HasErrors() || !strings.Contains(text, want) {
			t.Errorf("var files: want %q in\n%s", want, text)
		}
	}
}

// file() reads the profile's directory tree and the directories allowed
// beside it, regular files only, and no error shows what a file holds.
func TestFileFunc(t *testing.T) {
	const secret = "root:$6$s3cretHASH:19000:0:99999:7:::"
	base := t.TempDir()
	dir := filepath.Join(base, "profile")
	other := filepath.Join(base, "other")
	for _, d := range []string{dir, filepath.Join(dir, "sub"), other} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(other, "secret"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sub", "image"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"a": `+secret+`}`), 0o600)
	os.Symlink(filepath.Join(other, "secret"), filepath.Join(dir, "link"))
	os.Symlink("sub/image", filepath.Join(dir, "inside-link"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)

	image := func(expr string) string {
		return "runc { version = \"1.4.3\" }\ncontainerd {\n  version = \"2.3.4\"\n  sandbox_image = " + expr + "\n}\n"
	}
	cases := []struct {
		name, src string
		opts      Options
		want      string // "" means the profile loads
	}{
		{"absolute outside", image(`file("/etc/shadow")`), Options{},
			"/etc/shadow is outside the profile's directory " + dir + ", and nodeup reads no other file unless told to. Copy the file next to the profile, or allow its directory with --allow-file-outside /etc"},
		{"climbing outside", image(`file("../other/secret")`), Options{},
			filepath.Join(other, "secret") + " is outside the profile's directory"},
		{"allowed directory", image(`trimspace(file("../other/secret")) == "" ? "x" : "pause:3.10"`), Options{FileDirs: []string{other}}, ""},
		{"symlink out", image(`file("link")`), Options{},
			filepath.Join(dir, "link") + " leads outside " + dir + " through a symlink"},
		{"symlink inside", image(`file("inside-link") == "" ? "x" : "pause:3.10"`), Options{}, ""},
		{"fifo", image(`file("fifo")`), Options{}, filepath.Join(dir, "fifo") + " is a fifo, not a regular file"},
		{"device", image(`file("/dev/zero")`), Options{FileDirs: []string{"/dev"}}, "/dev/zero is a device, not a regular file"},
		{"checked value", image(`file("sub/image")`), Options{},
			`Invalid sandbox image on a value read from "sub/image"; nodeup shows nothing a file holds in its errors`},
		{"failing function", image(`jsondecode(file("bad.json"))["a"]`), Options{},
			`Function jsondecode failed on a value read from "bad.json"`},
		{"variable", "variable \"s\" { default = file(\"sub/image\") }\n" + image(`"${var.s}" + 1`), Options{},
			"Unsuitable value for left operand"},
		{"loop over lines", minimal + "kubelet {\n  flags = [for l in split(\":\", file(\"sub/image\")) : l + 1]\n}\n", Options{},
			"Unsuitable value for left operand"},
		{"raw config", "containerd {\n  version = \"2.3.4\"\n  config = file(\"sub/image\")\n}\n", Options{},
			`Invalid containerd config TOML on a value read from "sub/image"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "profile.hcl")
			os.WriteFile(p, []byte(c.src), 0o644)
			text, diags := loadPath(t, p, c.opts)
			if c.want == "" {
				if diags.HasErrors() {
					t.Fatalf("refused:\n%s", text)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(text, c.want) {
				t.Errorf("got:\n%s\nwant %q", text, c.want)
			}
			for _, part := range []string{"s3cret", "19000", "99999"} {
				if strings.Contains(text, part) {
					t.Errorf("the error shows what the file holds (%q):\n%s", part, text)
				}
			}
		})
	}
}

// A profile directory's own files follow file()'s rule: a *.hcl or
// *.auto.vars.hcl symlink that leads outside the directory is not read, so
// no diagnostic can print what it leads to, unless --allow-file-outside
// allows where it leads.
func TestProfileFilesStayInTheirDirectory(t *testing.T) {
	const secret = "root:$6$s3cretHASH:19000:0:99999:7:::"
	base := t.TempDir()
	dir := filepath.Join(base, "profile")
	other := filepath.Join(base, "other")
	for _, d := range []string{dir, filepath.Join(dir, "sub"), other} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(minimal+"runc { version = \"1.4.3\" }\n"), 0o644)
	os.WriteFile(filepath.Join(other, "shadow"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "sub", "vars"), []byte("# none\n"), 0o600)
	for _, name := range []string{"extra.hcl", "x" + AutoVarsSuffix} {
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, name)
			os.Symlink(filepath.Join(other, "shadow"), link)
			defer os.Remove(link)
			text, diags := loadPath(t, dir, Options{})
			want := link + " is a symlink that leads outside the profile directory " + dir
			if !diags.HasErrors() || !strings.Contains(text, want) || !strings.Contains(text, "--allow-file-outside") {
				t.Errorf("got:\n%s\nwant %q", text, want)
			}
			for _, part := range []string{"s3cret", "19000", "99999"} {
				if strings.Contains(text, part) {
					t.Errorf("the error shows what the file holds (%q):\n%s", part, text)
				}
			}
			// Allowed, it is read (and fails to parse, showing it: the
			// operator asked for it).
			if _, diags := loadPath(t, dir, Options{FileDirs: []string{other}}); !diags.HasErrors() {
				t.Errorf("a shadow file parsed as a profile")
			} else if strings.Contains(diagText(diags), "leads outside") {
				t.Errorf("allowed directory refused: %s", diagText(diags))
			}
		})
	}
	// A link that stays inside the directory is read.
	link := filepath.Join(dir, "inside"+AutoVarsSuffix)
	os.Symlink("sub/vars", link)
	if text, diags := loadPath(t, dir, Options{}); diags.HasErrors() {
		t.Errorf("link inside refused:\n%s", text)
	}
	os.Remove(link)
	os.Symlink(filepath.Join(dir, "sub", "vars"), link)
	if text, diags := loadPath(t, dir, Options{}); diags.HasErrors() {
		t.Errorf("absolute link inside refused:\n%s", text)
	}
}

// A profile directory's name is data, never a pattern: "site[1]" is read,
// not "site1" beside it.
func TestProfileDirectoryNameIsNotAPattern(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"site[1]", "site1", "a*"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "site[1]", "node.hcl"), []byte(minimal+"runc { version = \"1.4.3\" }\n"), 0o644)
	os.WriteFile(filepath.Join(base, "site1", "other.hcl"), []byte("this does not parse {"), 0o644)
	files, err := HCLFiles(filepath.Join(base, "site[1]"))
	if err != nil || len(files) != 1 || files[0] != filepath.Join(base, "site[1]", "node.hcl") {
		t.Errorf("HCLFiles: %q, %v", files, err)
	}
	if text, diags := loadPath(t, filepath.Join(base, "site[1]"), Options{}); diags.HasErrors() {
		t.Errorf("site[1] did not load:\n%s", text)
	}
	if _, diags := loadPath(t, filepath.Join(base, "a*"), Options{}); !diags.HasErrors() || !strings.Contains(diagText(diags), "holds no *.hcl profile files") {
		t.Errorf("a* matched others: %s", diagText(diags))
	}
}
