// Package archtest checks the architecture rules of doc/ARCHITECTURE.md
// on the source tree: library packages never print, exit, parse flags or
// read the environment, and only the front ends import go-fuse or x/term.
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repoRoot finds the directory with go.mod.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod found")
		}
	}
}

// forbidden calls in library code: package path -> function names.
var forbiddenCalls = map[string][]string{
	"os":  {"Exit", "Getenv", "LookupEnv", "Environ", "Setenv"},
	"fmt": {"Print", "Printf", "Println"},
	"log": {"Print", "Printf", "Println", "Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln"},
}

var forbiddenSelectors = map[string][]string{
	"os": {"Stdout", "Stderr", "Stdin", "Args"},
}

// importRules: which library directories may import a package prefix.
var importRules = []struct {
	prefix  string
	allowed []string // directory prefixes (relative to the repo root)
}{
	{"github.com/hanwen/go-fuse", []string{"fusefs", "cmd/"}},
	{"golang.org/x/term", []string{"cmd/"}},
	// The test tools' own commands (weedcluster for bench/) parse flags.
	{"flag", []string{"cmd/", "internal/testweed/"}},
	{"github.com/rogpeppe/go-internal", []string{"cmd/"}},
}

func isLibrary(rel string) bool {
	return !strings.HasPrefix(rel, "cmd/") && !strings.HasPrefix(rel, "bench/") &&
		!strings.HasPrefix(rel, "internal/testvault") && !strings.HasPrefix(rel, "internal/archtest") &&
		!strings.HasPrefix(rel, "internal/testweed")
}

func TestLibraryRules(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") && p != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		file, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		imports := map[string]string{} // local name -> path
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			name := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			imports[name] = path
			for _, r := range importRules {
				if !strings.HasPrefix(path, r.prefix) {
					continue
				}
				ok := false
				for _, a := range r.allowed {
					if strings.HasPrefix(rel, a) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s, which only %v may", rel, path, r.allowed)
				}
			}
		}
		if !isLibrary(rel) {
			return nil
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			path := imports[id.Name]
			for _, fn := range forbiddenCalls[path] {
				if sel.Sel.Name == fn {
					t.Errorf("%s: library code uses %s.%s", fset.Position(sel.Pos()), path, fn)
				}
			}
			for _, v := range forbiddenSelectors[path] {
				if sel.Sel.Name == v {
					t.Errorf("%s: library code uses %s.%s", fset.Position(sel.Pos()), path, v)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 5 {
		t.Fatalf("only %d files checked; is the walk broken?", checked)
	}
}

// Library packages contain no init functions with side effects and no
// package-level goroutines: we simply forbid init in library code.
func TestNoInitInLibrary(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !isLibrary(filepath.ToSlash(rel)) {
			return nil
		}
		file, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: init function in library code", rel)
			}
		}
		return nil
	})
}

// mutableStateFree lists the library directories that must not have
// package-level variables (other than interface assertions "_" and
// sentinel errors): their state lives in values, so two users in one
// process never share it.
var mutableStateFree = []string{"fusefs", "store", "internal/layout"}

// stateAllowed are the package-level variables that are not state of a
// mount or store, with the reason.
var stateAllowed = map[string]string{
	"opInSize":    "a table computed once and only read",
	"kernelOrder": "race-detector builds only: tells the detector the order the kernel gives",
	"noXattrat":   "a fact about the running kernel, the same for every store",
	"xattrBufs":   "a sync.Pool of buffers",
	"direntBufs":  "a sync.Pool of buffers",
}

func TestNoPackageLevelState(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for _, dir := range mutableStateFree {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			file, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Error(err)
				return nil
			}
			for _, decl := range file.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, spec := range gd.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if name.Name == "_" || strings.HasPrefix(name.Name, "Err") || strings.HasPrefix(name.Name, "err") || stateAllowed[name.Name] != "" {
							continue
						}
						t.Errorf("%s: package-level variable %s", rel, name.Name)
					}
				}
			}
			return nil
		})
	}
}
