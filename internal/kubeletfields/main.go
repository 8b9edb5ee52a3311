// Command kubeletfields writes templates/kubelet_fields.go: for each
// KubeletConfiguration field path, the Kubernetes minor release whose
// kubelet first has it and, if one does, the release that dropped it. It
// reads config/v1beta1 of k8s.io/kubelet at the first release of each minor
// in [firstMinor, lastMinor], fetched with go mod download (the module proxy
// only), so the table follows the upstream types rather than hand edits.
//
//	go run ./internal/kubeletfields templates/kubelet_fields.go
//
// (go generate ./templates runs it.)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The minor releases of Kubernetes 1.x (k8s.io/kubelet v0.x) the table spans.
const (
	firstMinor = 30
	lastMinor  = 37
)

const (
	module  = "k8s.io/kubelet"
	pkgDir  = "config/v1beta1"
	topType = "KubeletConfiguration"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kubeletfields OUTPUT.go")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "kubeletfields: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	present := map[string][]int{} // field path -> minors that have it, ascending
	for minor := firstMinor; minor <= lastMinor; minor++ {
		version := fmt.Sprintf("v0.%d.0", minor)
		dir, err := download(version)
		if err != nil {
			return err
		}
		paths, err := fieldPaths(filepath.Join(dir, filepath.FromSlash(pkgDir)))
		if err != nil {
			return fmt.Errorf("%s@%s: %w", module, version, err)
		}
		for _, p := range paths {
			present[p] = append(present[p], minor)
		}
		fmt.Fprintf(os.Stderr, "%s@%s: %d field paths\n", module, version, len(paths))
	}
	src, err := render(present)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// download fetches module@version into the module cache and returns its
// directory. It runs outside any module, so no go.mod or go.sum changes.
func download(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(data, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v: %s", module, version, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %q", module, version, data)
	}
	return info.Dir, nil
}

// fieldPaths parses the package in dir and returns the JSON paths of
// KubeletConfiguration's fields: top-level names, and dotted paths into
// fields whose type (T, *T or []T) is a struct the package declares. Types
// from other packages (metav1.Duration, logging, tracing) and maps are
// leaves.
func fieldPaths(dir string) ([]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	structs := map[string]*ast.StructType{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "zz_generated") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
		}
	}
	top, ok := structs[topType]
	if !ok {
		return nil, fmt.Errorf("no struct %s in %s", topType, dir)
	}
	var paths []string
	var walk func(st *ast.StructType, prefix string, seen []string) error
	walk = func(st *ast.StructType, prefix string, seen []string) error {
		for _, f := range st.Fields.List {
			name, inline, err := jsonName(f)
			if err != nil {
				return err
			}
			if name == "-" {
				continue
			}
			local := localStruct(f.Type)
			sub, isLocal := structs[local]
			if slices.Contains(seen, local) {
				isLocal = false // a recursive type: stop at its field
			}
			if inline || (len(f.Names) == 0 && name == "") {
				// Embedded: its fields are this struct's. One from
				// another package (metav1.TypeMeta: kind, apiVersion)
				// is not part of the table.
				if isLocal {
					if err := walk(sub, prefix, append(seen, local)); err != nil {
						return err
					}
				}
				continue
			}
			path := prefix + name
			paths = append(paths, path)
			if isLocal {
				if err := walk(sub, path+".", append(seen, local)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(top, "", []string{topType}); err != nil {
		return nil, err
	}
	slices.Sort(paths)
	if d := duplicate(paths); d != "" {
		return nil, fmt.Errorf("field path %q appears twice", d)
	}
	return paths, nil
}

// jsonName is a field's JSON name from its tag (the Go name when the tag
// has none) and whether the tag inlines it.
func jsonName(f *ast.Field) (name string, inline bool, err error) {
	if f.Tag != nil {
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			return "", false, fmt.Errorf("tag %s: %w", f.Tag.Value, err)
		}
		opts := strings.Split(reflect.StructTag(tag).Get("json"), ",")
		name = opts[0]
		inline = slices.Contains(opts[1:], "inline")
	}
	if name == "" && len(f.Names) > 0 {
		name = f.Names[0].Name
	}
	if len(f.Names) > 1 {
		return "", false, errors.New("a field declaration names several fields")
	}
	return name, inline, nil
}

// localStruct is the name of the package-local type of a field of type T,
// *T or []T; "" for any other type.
func localStruct(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return localStruct(t.X)
	case *ast.ArrayType:
		return localStruct(t.Elt)
	}
	return ""
}

func duplicate(sorted []string) string {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return sorted[i]
		}
	}
	return ""
}

// render writes the generated file. Each field path is present in one
// unbroken run of minors; a gap (removed, then added back) is an error
// the table's shape cannot say.
func render(present map[string][]int) ([]byte, error) {
	keys := make([]string, 0, len(present))
	for k := range present {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by go run ./internal/kubeletfields; DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package templates\n\n")
	fmt.Fprintf(&b, "// The Kubernetes 1.x minor releases kubeletFields spans: the first release\n")
	fmt.Fprintf(&b, "// of each of them, %s v0.%d.0 to v0.%d.0, config/%s.\n", module, firstMinor, lastMinor, strings.TrimPrefix(pkgDir, "config/"))
	fmt.Fprintf(&b, "const (\n\tkubeletFieldsFirstMinor = %d\n\tkubeletFieldsLastMinor  = %d\n)\n\n", firstMinor, lastMinor)
	fmt.Fprintf(&b, "// kubeletFields maps each KubeletConfiguration field path (JSON names,\n")
	fmt.Fprintf(&b, "// dotted into the package's own struct types) to the minor release that\n")
	fmt.Fprintf(&b, "// first has it (kubeletFieldsFirstMinor: that release or an older one) and\n")
	fmt.Fprintf(&b, "// the one that dropped it (0: none up to kubeletFieldsLastMinor).\n")
	fmt.Fprintf(&b, "var kubeletFields = map[string]kubeletFieldSpan{\n")
	for _, k := range keys {
		minors := present[k]
		for i := 1; i < len(minors); i++ {
			if minors[i] != minors[i-1]+1 {
				return nil, fmt.Errorf("field %q is in 1.%d, gone in 1.%d and back in 1.%d", k, minors[i-1], minors[i-1]+1, minors[i])
			}
		}
		added, last := minors[0], minors[len(minors)-1]
		if last < lastMinor {
			fmt.Fprintf(&b, "\t%q: {added: %d, removed: %d},\n", k, added, last+1)
		} else {
			fmt.Fprintf(&b, "\t%q: {added: %d},\n", k, added)
		}
	}
	fmt.Fprintf(&b, "}\n")
	return format.Source(b.Bytes())
}
