package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// excludeFlags are the reverse-mode exclusion options, with gocryptfs'
// names and aliases.
type excludeFlags struct {
	paths     stringList // -exclude, -e: literal paths from the root
	wildcards stringList // -exclude-wildcard, -ew: gitignore patterns
	from      stringList // -exclude-from: files of gitignore patterns
}

func (x *excludeFlags) register(fs *flag.FlagSet) {
	fs.Var(&x.paths, "exclude", "hide the plaintext `PATH` (relative to PLAINDIR, no wildcards) and everything below it; repeatable")
	fs.Var(&x.paths, "e", "same as -exclude")
	fs.Var(&x.wildcards, "exclude-wildcard", "hide paths matching the gitignore `PATTERN` (anywhere unless it starts with /); repeatable")
	fs.Var(&x.wildcards, "ew", "same as -exclude-wildcard")
	fs.Var(&x.from, "exclude-from", "read gitignore patterns from `FILE`, one per line; repeatable")
}

func (x *excludeFlags) empty() bool {
	return x == nil || len(x.paths) == 0 && len(x.wildcards) == 0 && len(x.from) == 0
}

// matcher builds the exclusion matcher of the options (nil when there
// are none, or x is nil). Errors are marked errExclude (exit code 29).
func (x *excludeFlags) matcher() (*excluder, error) {
	if x.empty() {
		return nil, nil
	}
	m := &excluder{}
	for _, p := range x.paths {
		clean := path.Clean(strings.Trim(p, "/"))
		if clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, mark(errExclude, fmt.Errorf("-exclude %q: not a path inside PLAINDIR", p))
		}
		m.rules = append(m.rules, rule{literal: clean, anchored: true, elems: strings.Split(clean, "/")})
	}
	for _, w := range x.wildcards {
		m.add(w)
	}
	for _, name := range x.from {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, mark(errExclude, fmt.Errorf("-exclude-from: %w", err))
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, len(data)+1)
		for sc.Scan() {
			m.add(strings.TrimSuffix(sc.Text(), "\r"))
		}
	}
	return m, nil
}

// excluder decides which plaintext paths a reverse view hides. It follows
// gitignore(5) (https://git-scm.com/docs/gitignore#_pattern_format):
//
//   - blank lines match nothing, lines starting with # are comments (\#
//     for a pattern starting with #), trailing spaces are dropped unless
//     escaped with a backslash;
//   - a leading ! negates the pattern (\! for a literal !): a path it
//     matches is shown again; the last matching pattern decides;
//   - a trailing / matches directories only;
//   - a pattern with a / at its start or in its middle is matched
//     against the whole path from the root (a leading / is dropped),
//     any other pattern against the last element at every depth;
//   - * matches anything but /, ? one character but /, [...] one
//     character of a class (ranges, [!...] or [^...] negation, [:alpha:]
//     and the other POSIX classes), a backslash makes the next character
//     literal; ** as a whole element matches any number of directories
//     (zero or more; one or more when it ends the pattern), otherwise it
//     is *.
//
// A pattern that matches a directory also speaks for everything below it,
// so that a later negation of a directory shows its whole contents again:
// with "*" and "!/important", important/ and all of its contents are
// shown, as gocryptfs documents for this example (git would still ignore
// the files inside). As in git, nothing below an excluded directory can
// be shown again.
type excluder struct {
	rules []rule
	// isDir reports whether a plaintext path is a directory; it is
	// asked only when a directory-only pattern matches the name.
	isDir func(plainPath string) bool
}

type rule struct {
	negate   bool
	dirOnly  bool
	anchored bool     // matched against the whole path
	elems    []string // pattern elements (anchored) or the one element
	literal  string   // -exclude: the exact path (no wildcards)
}

// add parses one gitignore line.
func (m *excluder) add(line string) {
	line = trimTrailingSpaces(line)
	if line == "" || line[0] == '#' {
		return
	}
	var r rule
	if line[0] == '!' {
		r.negate = true
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") && !strings.HasSuffix(line, "\\/") {
		r.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if line == "" {
		return
	}
	if strings.Contains(line, "/") {
		r.anchored = true
		line = strings.TrimPrefix(line, "/")
	}
	r.elems = strings.Split(line, "/")
	m.rules = append(m.rules, r)
}

// trimTrailingSpaces drops trailing spaces that are not escaped.
func trimTrailingSpaces(s string) string {
	for strings.HasSuffix(s, " ") {
		i := len(s) - 1
		bs := 0
		for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 1 {
			break
		}
		s = s[:i]
	}
	return s
}

// hide is the reverse.Options.Exclude function: whether plainPath
// itself is hidden, given that no directory above it is (the view checks
// those first, component by component).
func (m *excluder) hide(plainPath string) bool {
	var dirKnown, dir bool
	isDir := func() bool {
		if !dirKnown {
			dirKnown = true
			dir = m.isDir != nil && m.isDir(plainPath)
		}
		return dir
	}
	elems := strings.Split(plainPath, "/")
	for i := len(m.rules) - 1; i >= 0; i-- {
		if m.rules[i].matches(elems, isDir) {
			return !m.rules[i].negate
		}
	}
	return false
}

// excluded reports whether plainPath is hidden, itself or through a
// directory above it.
func (m *excluder) excluded(plainPath string) bool {
	for i := 0; i <= len(plainPath); i++ {
		if i == len(plainPath) || plainPath[i] == '/' {
			if m.hide(plainPath[:i]) {
				return true
			}
		}
	}
	return false
}

// matches reports whether the rule matches the path (split into elems)
// or a directory above it. isDir tells whether the path itself is a
// directory (directories above it always are).
func (r *rule) matches(elems []string, isDir func() bool) bool {
	for n := len(elems); n >= 1; n-- {
		if r.dirOnly && n == len(elems) && !isDir() {
			continue
		}
		if r.matchesExactly(elems[:n]) {
			return true
		}
	}
	return false
}

// matchesExactly matches the rule against the path elems itself.
func (r *rule) matchesExactly(elems []string) bool {
	if r.literal != "" {
		return len(elems) == len(r.elems) && strings.Join(elems, "/") == r.literal
	}
	if !r.anchored {
		return globElem(r.elems[0], elems[len(elems)-1])
	}
	return matchElems(r.elems, elems)
}

// matchElems matches pattern elements (with ** elements) against path
// elements.
func matchElems(pat, elems []string) bool {
	if len(pat) == 0 {
		return len(elems) == 0
	}
	if pat[0] == "**" {
		if len(pat) == 1 {
			return len(elems) >= 1 // trailing /**: everything inside
		}
		for k := 0; k <= len(elems); k++ {
			if matchElems(pat[1:], elems[k:]) {
				return true
			}
		}
		return false
	}
	return len(elems) > 0 && globElem(pat[0], elems[0]) && matchElems(pat[1:], elems[1:])
}

// globElem matches one path element against one pattern element: *, ?,
// [...] and backslash escapes; ** inside an element is *. It backtracks
// only to the last *, so it takes O(len(pat) * len(name)) steps.
func globElem(pat, name string) bool {
	px, nx := 0, 0
	starPx, starNx := -1, 0 // after the last *, and where its match ends
	for px < len(pat) || nx < len(name) {
		if px < len(pat) {
			if pat[px] == '*' {
				for px < len(pat) && pat[px] == '*' {
					px++
				}
				starPx, starNx = px, nx
				continue
			}
			if n, ok := matchOne(pat[px:], name[nx:]); ok {
				px += n.pat
				nx += n.name
				continue
			}
		}
		// Mismatch: let the last * take one more byte (bytes, as git's
		// wildmatch: a literal byte of invalid UTF-8 may match inside a
		// multi-byte character).
		if starPx < 0 || starNx >= len(name) {
			return false
		}
		starNx++
		px, nx = starPx, starNx
	}
	return true
}

type advance struct{ pat, name int }

// matchOne matches the first character of name against the pattern item
// (not *) at the start of pat, returning the bytes consumed of each.
func matchOne(pat, name string) (advance, bool) {
	if name == "" {
		return advance{}, false
	}
	c, size := utf8.DecodeRuneInString(name)
	switch pat[0] {
	case '?':
		return advance{1, size}, true
	case '[':
		ok, rest, valid := matchClass(pat, c)
		if valid {
			return advance{len(pat) - len(rest), size}, ok
		}
		// No closing ]: a literal [.
		return advance{1, 1}, name[0] == '['
	}
	n := 0
	if pat[0] == '\\' && len(pat) > 1 {
		n = 1
	}
	pc, psize := utf8.DecodeRuneInString(pat[n:])
	if pc == utf8.RuneError && psize <= 1 {
		// A byte of invalid UTF-8 in the pattern matches that byte.
		return advance{n + 1, 1}, len(pat) > n && pat[n] == name[0]
	}
	return advance{n + psize, size}, pat[n:n+psize] == name[:size]
}

var posixClasses = map[string]func(rune) bool{
	"alnum":  func(c rune) bool { return isAlpha(c) || isDigit(c) },
	"alpha":  isAlpha,
	"blank":  func(c rune) bool { return c == ' ' || c == '\t' },
	"cntrl":  func(c rune) bool { return c < 32 || c == 127 },
	"digit":  isDigit,
	"graph":  func(c rune) bool { return c > 32 && c < 127 },
	"lower":  func(c rune) bool { return c >= 'a' && c <= 'z' },
	"print":  func(c rune) bool { return c >= 32 && c < 127 },
	"punct":  func(c rune) bool { return c > 32 && c < 127 && !isAlpha(c) && !isDigit(c) },
	"space":  func(c rune) bool { return c == ' ' || (c >= '\t' && c <= '\r') },
	"upper":  func(c rune) bool { return c >= 'A' && c <= 'Z' },
	"xdigit": func(c rune) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') },
}

func isAlpha(c rune) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c rune) bool { return c >= '0' && c <= '9' }

// matchClass matches c against the class at the start of pat ("[...]").
// It returns whether c is in the class, the pattern after the class, and
// whether the class is well-formed (closed by ]).
func matchClass(pat string, c rune) (ok bool, rest string, valid bool) {
	i := 1
	negate := false
	if i < len(pat) && (pat[i] == '!' || pat[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pat) {
		if pat[i] == ']' && !first {
			return ok != negate, pat[i+1:], true
		}
		first = false
		if strings.HasPrefix(pat[i:], "[:") {
			if end := strings.Index(pat[i+2:], ":]"); end >= 0 {
				if f, known := posixClasses[pat[i+2:i+2+end]]; known {
					ok = ok || f(c)
					i += end + 4
					continue
				}
			}
		}
		lo, n := classChar(pat[i:])
		if n == 0 {
			break
		}
		i += n
		hi := lo
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			h, m := classChar(pat[i+1:])
			if m == 0 {
				break
			}
			hi = h
			i += 1 + m
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	return false, "", false
}

// classChar decodes one (possibly backslash-escaped) character of a
// class; n is 0 at the end of the pattern.
func classChar(s string) (c rune, n int) {
	if s == "" {
		return 0, 0
	}
	if s[0] == '\\' && len(s) > 1 {
		c, size := utf8.DecodeRuneInString(s[1:])
		return c, 1 + size
	}
	c, size := utf8.DecodeRuneInString(s)
	return c, size
}
