//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/reverse"
)

func TestGlobElem(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"*", "", true},
		{"*", "anything", true},
		{"*.mp3", "song.mp3", true},
		{"*.mp3", "song.mp3.bak", false},
		{"*.mp3", ".mp3", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**", "x", true},
		{"a**b", "aXb", true},
		{"?", "x", true},
		{"?", "", false},
		{"?", "xy", false},
		{"?", "é", true}, // one character, two bytes
		{"??", "é", false},
		{"*é", "café", true},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[!a-c]", "d", true},
		{"[!a-c]", "a", false},
		{"[^a-c]", "a", false},
		{"[^a-c]", "z", true},
		{"[]]", "]", true},
		{"[]a]", "a", true},
		{"[!]]", "]", false},
		{"[a-]", "-", true},
		{"[[:digit:]]x", "7x", true},
		{"[[:digit:]]x", "ax", false},
		{"[[:alpha:][:digit:]]", "Q", true},
		{"[[:upper:]]", "q", false},
		{"[[:space:]]", " ", true},
		{"[[:xdigit:]]", "F", true},
		{"[\\]]", "]", true},
		{"[é]", "é", true},
		{"[", "[", true}, // unclosed: literal
		{"[a", "[a", true},
		{"[a", "a", false},
		{"\\*", "*", true},
		{"\\*", "x", false},
		{"\\?", "?", true},
		{"\\[a]", "[a]", true},
		{"\\[a]", "a", false},
		{"a\\ ", "a ", true},
		{"\\#x", "#x", true},
		{"\\!x", "!x", true},
		// Backtracking only to the last star: this would take 255^9 steps
		// with naive recursion.
		{"*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 255), false},
		{"*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 254) + "b", true},
	}
	for _, tt := range tests {
		if got := globElem(tt.pat, tt.name); got != tt.want {
			t.Errorf("globElem(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestTrimTrailingSpaces(t *testing.T) {
	for in, want := range map[string]string{
		"a":       "a",
		"a  ":     "a",
		`a\ `:     `a\ `,
		`a\  `:    `a\ `,
		`a\\ `:    `a\\`,
		"   ":     "",
		"a b":     "a b",
		"a\t":     "a\t", // only spaces are trimmed
		`a\\\ `:   `a\\\ `,
		`a\\\  x`: `a\\\  x`,
	} {
		if got := trimTrailingSpaces(in); got != want {
			t.Errorf("trimTrailingSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}

// dirs is the set of directories of the test tree the matcher is asked
// about (directory-only patterns need to know).
var excludeDirs = map[string]bool{
	"dir": true, "dir/sub": true, "dir/sub/deep": true, "a": true, "a/b": true, "a/x": true,
	"a/x/b": true, "a/x/y": true, "a/x/y/b": true, "important": true, "important/sub": true,
	"build": true, "src": true, "src/build": true, "logs": true, "foo": true, "x": true, "x/foo": true,
}

func newTestExcluder(t *testing.T, lines ...string) *excluder {
	t.Helper()
	m := &excluder{isDir: func(p string) bool { return excludeDirs[p] }}
	for _, l := range lines {
		m.add(l)
	}
	return m
}

func TestExcluder(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		hidden   []string
		shown    []string
	}{
		{"basename anywhere", []string{"*.mp3"},
			[]string{"a.mp3", "dir/b.mp3", "dir/sub/deep/c.mp3"},
			[]string{"a.mp3x", "dir", "mp3", "dir/sub"}},
		{"plain name anywhere", []string{"file.txt"},
			[]string{"file.txt", "dir/file.txt", "file.txt/inside"},
			[]string{"file.txt2", "dir/xfile.txt"}},
		{"anchored", []string{"/file.txt"},
			[]string{"file.txt"},
			[]string{"dir/file.txt"}},
		{"middle slash anchors", []string{"dir/sub"},
			[]string{"dir/sub", "dir/sub/deep", "dir/sub/deep/f"},
			[]string{"x/dir/sub", "dir", "dir/subx"}},
		{"dir only", []string{"build/"},
			[]string{"build", "build/out.o", "src/build", "src/build/x"},
			[]string{"a/build.txt", "logs"}},
		{"dir only does not match files", []string{"foo/"},
			[]string{"foo", "x/foo"},
			[]string{"dir/foo"}}, // dir/foo is not in excludeDirs: a file
		{"anchored dir only", []string{"/build/"},
			[]string{"build", "build/x"},
			[]string{"src/build", "src/build/x"}},
		{"negation", []string{"*.log", "!important.log"},
			[]string{"a.log", "dir/b.log"},
			[]string{"important.log", "dir/important.log", "a.txt"}},
		{"negation order matters", []string{"!important.log", "*.log"},
			[]string{"important.log", "a.log"},
			nil},
		{"no re-include below an excluded dir", []string{"/dir", "!/dir/keep"},
			[]string{"dir", "dir/keep", "dir/other"},
			[]string{"keep"}},
		{"everything but important (gocryptfs example)", []string{"*", "!/important"},
			[]string{"top", "dir", "dir/x", "a.mp3"},
			[]string{"important", "important/file", "important/sub", "important/sub/f2"}},
		{"leading **", []string{"**/foo"},
			[]string{"foo", "x/foo", "dir/sub/foo", "x/foo/inside"},
			[]string{"foox", "xfoo"}},
		{"leading ** with more", []string{"**/sub/deep"},
			[]string{"dir/sub/deep", "sub/deep", "dir/sub/deep/f"},
			[]string{"dir/sub", "deep"}},
		{"trailing **", []string{"dir/**"},
			[]string{"dir/x", "dir/sub", "dir/sub/deep/f"},
			[]string{"dir", "x/dir/y"}},
		{"middle **", []string{"a/**/b"},
			[]string{"a/b", "a/x/b", "a/x/y/b", "a/x/y/b/f"},
			[]string{"a/x", "a/x/y", "b", "x/a/b"}},
		{"** inside an element is *", []string{"/a**"},
			[]string{"a", "abc"},
			[]string{"dir/a"}},
		{"star does not cross slash", []string{"/dir/*.c"},
			[]string{"dir/x.c"},
			[]string{"dir/sub/x.c", "x.c"}},
		{"question mark", []string{"f?.txt"},
			[]string{"f1.txt", "dir/fé.txt"},
			[]string{"f.txt", "f12.txt"}},
		{"class", []string{"[Tt]emp[0-9]"},
			[]string{"temp1", "Temp9", "dir/temp0"},
			[]string{"temp", "xemp1", "tempa"}},
		{"negated class", []string{"/[!a-y]*"},
			[]string{"zeta", "Zeta", "1"},
			[]string{"alpha", "dir"}},
		{"comments and blank lines", []string{"# *", "", "   ", "#file.txt", "real"},
			[]string{"real"},
			[]string{"file.txt", "# *", "x"}},
		{"escaped hash and bang", []string{`\#hash`, `\!bang`},
			[]string{"#hash", "!bang"},
			[]string{"hash", "bang"}},
		{"trailing spaces", []string{"spaced   ", `kept\ `},
			[]string{"spaced", "kept "},
			[]string{"spaced   ", "kept"}},
		{"escaped wildcards", []string{`star\*`, `q\?`},
			[]string{"star*", "q?"},
			[]string{"starx", "qx"}},
		{"negating a dir-only pattern", []string{"logs/*", "!logs/keep/"},
			[]string{"logs/a", "logs/keep"}, // logs/keep is a file here: not re-included
			[]string{"logs"}},
		{"unicode", []string{"日本*"},
			[]string{"日本語", "dir/日本"},
			[]string{"本日"}},
		{"bare negation and slash are no patterns", []string{"!", "/", "!/"},
			nil,
			[]string{"x", "dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestExcluder(t, tt.patterns...)
			for _, p := range tt.hidden {
				if !m.excluded(p) {
					t.Errorf("%q shown, want hidden", p)
				}
			}
			for _, p := range tt.shown {
				if m.excluded(p) {
					t.Errorf("%q hidden, want shown", p)
				}
			}
		})
	}
}

func TestExcludeFlags(t *testing.T) {
	dir := t.TempDir()
	from := filepath.Join(dir, "exclusions")
	os.WriteFile(from, []byte("# backups\r\n*.bak\r\n\n!keep.bak\n/secret/\n"), 0o600)
	x := excludeFlags{
		paths:     stringList{"/Music/", "dir/./file.txt", "a*"},
		wildcards: stringList{"*.mp3"},
		from:      stringList{from},
	}
	m, err := x.matcher()
	if err != nil {
		t.Fatal(err)
	}
	m.isDir = func(p string) bool { return p == "secret" || p == "Music" }
	for _, p := range []string{"Music", "Music/song", "dir/file.txt", "a*", "x.mp3", "d/y.bak", "secret", "secret/f"} {
		if !m.excluded(p) {
			t.Errorf("%q shown, want hidden", p)
		}
	}
	// -exclude is literal and anchored: no wildcards, no other depth.
	for _, p := range []string{"sub/Music", "abc", "file.txt", "sub/dir/file.txt", "keep.bak", "d/keep.bak", "sub/secret"} {
		if m.excluded(p) {
			t.Errorf("%q hidden, want shown", p)
		}
	}
	var none excludeFlags
	if m, err := none.matcher(); m != nil || err != nil {
		t.Errorf("no exclusions: %v %v", m, err)
	}
	for _, bad := range []string{"..", "../x", "/", "."} {
		x := excludeFlags{paths: stringList{bad}}
		if _, err := x.matcher(); exitCode(err) != exitExclude {
			t.Errorf("-exclude %q: %v (exit %d)", bad, err, exitCode(err))
		}
	}
	x = excludeFlags{from: stringList{filepath.Join(dir, "missing")}}
	if _, err := x.matcher(); exitCode(err) != exitExclude || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing -exclude-from: %v", err)
	}
}

// TestExcludeView: excluded objects are absent from the view of the
// golden reverse vault, through listings, lookups by their (computable)
// encrypted names, long-name .name files and DecryptPath, and from an
// export; everything else is there.
func TestExcludeView(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	x := &excludeFlags{
		paths:     stringList{"dir1/dir2"},
		wildcards: stringList{"*.bin", "!exactly-4097.bin", "n255-*"},
	}
	e := newEnv(strings.NewReader(""), io.Discard, io.Discard)
	v, done, err := e.openReverse(context.Background(), plain, &secretFlags{passfile: stringList{passfile(t)}}, "", x, nil, reverse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	var hidden, shown []string
	for _, e := range testvault.Manifest(t, "reverse") {
		p := e.Path
		if strings.HasPrefix(p, "dir1/dir2") || strings.HasPrefix(p, "n255-") ||
			strings.HasSuffix(p, ".bin") && p != "exactly-4097.bin" {
			hidden = append(hidden, p)
		} else {
			shown = append(shown, p)
		}
	}
	if len(hidden) != 10 || !slices.ContainsFunc(hidden, func(p string) bool { return len(p) == 255 }) {
		t.Fatalf("the golden tree changed: hidden %q", hidden)
	}
	for _, p := range hidden {
		cp, err := v.EncryptPath(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{cp, cp + ".name"} {
			if _, err := fs.Lstat(v, q); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: Lstat(%s) = %v, want not exist", p, q, err)
			}
			if _, err := v.Open(q); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: Open(%s) = %v, want not exist", p, q, err)
			}
		}
		if _, err := v.DecryptPath(cp); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: DecryptPath = %v", p, err)
		}
		ents, err := fs.ReadDir(v, path.Dir(cp))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, d := range ents {
			if d.Name() == path.Base(cp) || d.Name() == path.Base(cp)+".name" {
				t.Errorf("%s listed as %s", p, d.Name())
			}
		}
	}
	for _, p := range shown {
		cp, _ := v.EncryptPath(p)
		if _, err := fs.Lstat(v, cp); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	// The export of the same view: its forward decryption lacks exactly
	// the hidden objects.
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := runCLI(t, "export", "-q", "-passfile", passfile(t), "-e", "dir1/dir2", "-ew", "*.bin", "-ew", "!exactly-4097.bin", "-exclude-wildcard", "n255-*", plain, out); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []testvault.Entry
	for _, e := range testvault.Manifest(t, "reverse") {
		if !slices.ContainsFunc(hidden, func(h string) bool { return e.Path == h || strings.HasPrefix(e.Path, h+"/") }) {
			want = append(want, e)
		}
	}
	testvault.CompareTree(t, f, want, nil)
}

// FuzzExcluder: any pattern line and any path are handled without a
// panic; a pattern without special characters matches exactly its own
// name; a negated copy of a pattern put after it undoes it.
func FuzzExcluder(f *testing.F) {
	for _, s := range []string{"*.mp3", "[a-", "[[:alpha:]", "\\", "a/**/b", "!x", "[!]", "**/", "[\\"} {
		f.Add(s, "dir/a.mp3")
	}
	f.Fuzz(func(t *testing.T, pattern, p string) {
		// Where gitignore and path.Match agree (*, ? and plain
		// characters within one element), they give the same answer.
		if name := path.Base(p); !strings.ContainsAny(pattern, "[\\/") && !strings.Contains(name, "/") {
			if want, err := path.Match(pattern, name); err == nil && globElem(pattern, name) != want {
				t.Errorf("globElem(%q, %q) = %v, path.Match says %v", pattern, name, !want, want)
			}
		}
		m := &excluder{isDir: func(string) bool { return true }}
		m.add(pattern)
		hidden := m.excluded(p)
		if !strings.ContainsAny(pattern, "*?[\\!#/ ") && pattern != "" && fs.ValidPath(pattern) {
			if !m.excluded(pattern) {
				t.Errorf("literal pattern %q does not match itself", pattern)
			}
		}
		if hidden && !strings.HasPrefix(pattern, "!") {
			m.add("!" + pattern)
			if m.hide(p) {
				t.Errorf("pattern %q then !%q still hides %q", pattern, pattern, p)
			}
		}
	})
}
