package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"golang.org/x/sys/unix"

	"github.com/nodeup/nodeup/profile"
)

// maxValueSize bounds what one function call may return (bytes of text,
// plus a few per element): a profile's values are configuration files at
// most, and a chain of calls doubling a string must stop long before memory
// does.
const maxValueSize = 4 << 20

// functions are the functions a profile may call: go-cty's string,
// collection and encoding functions, each bounded in what it returns, plus
// file() (fileFunc).
func (l *loader) functions() map[string]function.Function {
	fns := map[string]function.Function{
		"upper":      stdlib.UpperFunc,
		"lower":      stdlib.LowerFunc,
		"title":      stdlib.TitleFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"chomp":      stdlib.ChompFunc,
		"indent":     stdlib.IndentFunc,
		"join":       stdlib.JoinFunc,
		"split":      stdlib.SplitFunc,
		"replace":    stdlib.ReplaceFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"substr":     stdlib.SubstrFunc,
		"strlen":     stdlib.StrlenFunc,
		"format":     stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc,
		"concat":     stdlib.ConcatFunc,
		"contains":   stdlib.ContainsFunc,
		"distinct":   stdlib.DistinctFunc,
		"element":    stdlib.ElementFunc,
		"flatten":    stdlib.FlattenFunc,
		"keys":       stdlib.KeysFunc,
		"values":     stdlib.ValuesFunc,
		"length":     stdlib.LengthFunc,
		"lookup":     stdlib.LookupFunc,
		"merge":      stdlib.MergeFunc,
		"reverse":    stdlib.ReverseListFunc,
		"slice":      stdlib.SliceFunc,
		"sort":       stdlib.SortFunc,
		"zipmap":     stdlib.ZipmapFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"compact":    stdlib.CompactFunc,
		"range":      stdlib.RangeFunc,
		"min":        stdlib.MinFunc,
		"max":        stdlib.MaxFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"csvdecode":  stdlib.CSVDecodeFunc,
	}
	for name, f := range fns {
		fns[name] = bounded(f, expansions[name], &l.produced)
	}
	fns["file"] = fileFunc(l.baseDir, l.opts.FileDirs, l.recordRead)
	return fns
}

// expansions estimate, before the call, the size of what the functions that
// multiply their input would build; the others are bounded by their input.
var expansions = map[string]func(args []cty.Value) int{
	"range": func(args []cty.Value) int {
		// range(start, limit, step): 8 bytes an element, as valueSize
		// counts them.
		var start, limit, step float64 = 0, 0, 1
		f := func(v cty.Value) float64 { x, _ := v.AsBigFloat().Float64(); return x }
		switch len(args) {
		case 1:
			limit = f(args[0])
		case 2:
			start, limit = f(args[0]), f(args[1])
		case 3:
			start, limit, step = f(args[0]), f(args[1]), f(args[2])
		}
		if step == 0 {
			return 0
		}
		n := (limit - start) / step
		if n > maxValueSize {
			return maxValueSize + 1
		}
		return int(max(n, 0)) * 8
	},
	"indent": func(args []cty.Value) int {
		spaces, _ := args[0].AsBigFloat().Int64()
		s := args[1].AsString()
		return len(s) + int(min(max(spaces, 0), maxValueSize))*(strings.Count(s, "\n")+1)
	},
	"replace": func(args []cty.Value) int {
		s, sub, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
		n := len(s) + 1 // a pattern can match at every position
		if sub != "" && !(len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/') {
			n = strings.Count(s, sub)
		}
		return len(s) + n*len(repl)
	},
	"join": func(args []cty.Value) int {
		n := 0
		for _, list := range args[1:] {
			for it := list.ElementIterator(); it.Next(); {
				_, e := it.Element()
				if e.IsKnown() && !e.IsNull() {
					n += len(e.AsString())
				}
				n += len(args[0].AsString())
			}
		}
		return n
	},
}

// maxProduced bounds what all the function calls of one load return
// together: a for-expression calling a bounded function a million times
// must stop long before memory does.
const maxProduced = 64 << 20

// bounded wraps f: a call whose estimate (nil: none) or whose result is
// larger than maxValueSize fails, with what to do, and so does any call
// once the results of the load's calls (counted in produced) pass
// maxProduced.
func bounded(f function.Function, estimate func(args []cty.Value) int, produced *int) function.Function {
	spec := &function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if estimate != nil && knownArgs(args) && estimate(args) > maxValueSize {
				return cty.NilVal, errTooLarge
			}
			if *produced > maxProduced {
				return cty.NilVal, errTooMuch
			}
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			n := valueSize(v, maxValueSize)
			if n > maxValueSize {
				return cty.NilVal, errTooLarge
			}
			*produced += n
			return v, err
		},
	}
	return function.New(spec)
}

var errTooLarge = fmt.Errorf("the result would be larger than %d MiB, more than any profile value needs", maxValueSize>>20)

var errTooMuch = fmt.Errorf("the profile's expressions together build more than %d MiB of values, more than any profile needs: a for-expression over a large collection calls this function too often; build smaller values", maxProduced>>20)

func knownArgs(args []cty.Value) bool {
	for _, a := range args {
		if !a.IsWhollyKnown() || a.IsNull() || a.IsMarked() {
			return false
		}
	}
	return true
}

// valueSize is about how many bytes v holds, counted up to limit.
func valueSize(v cty.Value, limit int) int {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return 1
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return len(v.AsString())
	case ty.IsPrimitiveType():
		return 8
	case ty.IsListType(), ty.IsSetType(), ty.IsTupleType(), ty.IsMapType(), ty.IsObjectType():
		n := 0
		for it := v.ElementIterator(); it.Next() && n <= limit; {
			k, e := it.Element()
			n += 8 + valueSize(k, limit-n) + valueSize(e, limit-n)
		}
		return n
	}
	return 8
}

// fileFunc reads a file of the profile: a path relative to the profile's
// directory, or an absolute one. Only files in the profile's directory tree
// (or in the directories of dirs, from --allow-file-outside) are read, and
// only regular files of at most MaxFileSize bytes, opened without blocking;
// a symlink may not lead out of the directory it is in. Errors name the
// file and never show what it holds.
func fileFunc(baseDir string, dirs []string, read func(profile.FileRead)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String, AllowMarked: true}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			arg, marks := args[0].Unmark()
			v, err := readFileArg(arg.AsString(), baseDir, dirs, read)
			if err != nil && len(marks) > 0 {
				// The path is a secret, however short: no error names it.
				return cty.NilVal, function.NewArgErrorf(0, "cannot read the file a sensitive value names (nodeup does not show the path); check the variable's value, and that the file is a regular file inside the profile's directory or one allowed with --allow-file-outside")
			}
			return v.WithMarks(marks), err
		},
	})
}

// readFileArg reads file() argument p (see fileFunc).
func readFileArg(p, baseDir string, dirs []string, read func(profile.FileRead)) (cty.Value, error) {
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(baseDir, p)
	}
	abs, err := filepath.Abs(abs)
	if err != nil {
		return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %v", p, err)
	}
	for _, dir := range append([]string{baseDir}, dirs...) {
		dir, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		b, err := readBelow(dir, rel)
		if err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %v", p, err)
		}
		read(profile.FileRead{Arg: p, Path: abs})
		return cty.StringVal(string(b)), nil
	}
	base, _ := filepath.Abs(baseDir)
	return cty.NilVal, function.NewArgErrorf(0,
		"%s is outside the profile's directory %s, and nodeup reads no other file unless told to. Copy the file next to the profile, or allow its directory with --allow-file-outside %s",
		abs, base, filepath.Dir(abs))
}

// recordRead notes a file file() read, once, for Snapshot.
func (l *loader) recordRead(r profile.FileRead) {
	for _, seen := range l.reads {
		if seen == r {
			return
		}
	}
	l.reads = append(l.reads, r)
}

// errEscapes is a symlink that leads out of the directory it is read below.
var errEscapes = errors.New("a symlink leads out of the directory")

type escapeError struct{ error }

func (escapeError) Is(target error) bool { return target == errEscapes }

// readBelow reads the regular file rel below dir, following symlinks only
// while they stay inside dir.
func readBelow(dir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	full := filepath.Join(dir, rel)
	f, err := root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
			return nil, escapeError{fmt.Errorf("%s leads outside %s through a symlink; copy the file itself there, or allow the directory it leads to with --allow-file-outside", full, dir)}
		}
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", full, pe.Err)
		}
		return nil, err
	}
	defer f.Close()
	return readOpened(f, full, MaxFileSize)
}
