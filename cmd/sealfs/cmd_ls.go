package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/sealfs/sealfs"
)

type lsOptions struct {
	open      openFlags
	long      bool
	recursive bool
}

var cmdLs = &command{
	name:    "ls",
	args:    "CIPHERDIR [PATH]",
	summary: "list a directory of a vault without mounting it",
	help: `
Prints the decrypted names in the directory PATH of the vault (default: the
root), one per line, sorted. PATH is a plaintext path inside the vault; a
leading "/" is allowed. With -l, each line shows type and permissions, link
count, owner and group IDs, size, modification time and name (symlinks
also show their target). -R lists the whole tree below PATH with paths
relative to it.

Entries whose names cannot be decrypted are skipped with a warning, and the
exit code is then 11. The vault is opened read-only.`,
	flags: func(fs *flag.FlagSet) any {
		o := &lsOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.long, "l", false, "long listing format")
		fs.BoolVar(&o.recursive, "R", false, "list subdirectories recursively")
		return o
	},
	run: runLs,
}

// vaultPath turns a user-supplied plaintext path into an io/fs path.
func vaultPath(p string) (string, error) {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", usageErrorf("path %q: \"..\" is not allowed", p)
		}
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	if clean == "" {
		clean = "."
	}
	return clean, nil
}

// problems counts corrupt entries and failed objects reported during a
// command; a command ends with an error when there were any.
type problems struct {
	e        *env
	prog     *progress // status line to clear before a message; may be nil
	n        int
	reported map[string]bool // paths the FS reported as corrupt
}

// corrupt is the FS's OnCorrupt callback: corruption it worked around (an
// undecryptable name left out of a listing) or is about to return as an
// error.
func (p *problems) corrupt(where string, err error) {
	if p.reported == nil {
		p.reported = map[string]bool{}
	}
	p.reported[where] = true
	p.n++
	p.prog.clearLine()
	p.e.warnf("corrupt data in %q: %v\n", where, err)
}

// failed reports an object the command could not handle, unless it is
// corruption the FS has already reported.
func (p *problems) failed(err error) {
	var pe *fs.PathError
	if errors.Is(err, sealfs.ErrCorrupt) && errors.As(err, &pe) && p.reported[pe.Path] {
		return
	}
	p.n++
	p.prog.clearLine()
	p.e.warnf("%v\n", err)
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	if p.n == 1 {
		return fmt.Errorf("1 problem found")
	}
	return fmt.Errorf("%d problems found", p.n)
}

func runLs(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*lsOptions)
	e.infow = e.stderr
	if len(args) < 1 || len(args) > 2 {
		return usageErrorf("expected CIPHERDIR [PATH], got %d argument(s)", len(args))
	}
	dir := "."
	if len(args) == 2 {
		var err error
		if dir, err = vaultPath(args[1]); err != nil {
			return err
		}
	}
	prob := &problems{e: e}
	f, err := e.openVault(ctx, args[0], &o.open, true, prob.corrupt)
	if err != nil {
		return err
	}
	defer f.Close()

	fi, err := f.Lstat(dir)
	if err != nil {
		return err
	}
	var rows [][]string
	add := func(name, p string, fi fs.FileInfo) {
		rows = append(rows, lsRow(f, name, p, fi, o.long))
	}
	switch {
	case !fi.IsDir():
		add(args[len(args)-1], dir, fi)
	case o.recursive:
		err = fs.WalkDir(f, dir, func(p string, d fs.DirEntry, err error) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err != nil {
				prob.failed(err)
				return nil
			}
			if p == dir {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				prob.failed(err)
				return nil
			}
			rel := p
			if dir != "." {
				rel = strings.TrimPrefix(p, dir+"/")
			}
			add(rel, p, fi)
			return nil
		})
		if err != nil {
			return err
		}
	default:
		entries, err := f.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, d := range entries {
			p := path.Join(dir, d.Name())
			fi, err := d.Info()
			if err != nil {
				prob.failed(err)
				continue
			}
			add(d.Name(), p, fi)
		}
	}
	printColumns(e, rows)
	return prob.err()
}

// lsRow returns the columns of one listing line.
func lsRow(f *sealfs.FS, name, p string, fi fs.FileInfo, long bool) []string {
	if !long {
		return []string{name}
	}
	nlink, uid, gid := "?", "?", "?"
	if st, ok := fi.Sys().(*sealfs.Stat); ok {
		nlink = strconv.FormatUint(st.Nlink, 10)
		uid = strconv.FormatUint(uint64(st.Uid), 10)
		gid = strconv.FormatUint(uint64(st.Gid), 10)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err := f.ReadLink(p); err == nil {
			name += " -> " + target
		} else {
			name += " -> ?"
		}
	}
	return []string{modeString(fi.Mode()), nlink, uid, gid, strconv.FormatInt(fi.Size(), 10),
		fi.ModTime().Format("2006-01-02 15:04"), name}
}

// printColumns prints rows with right-aligned numeric columns (all but the
// first and the last two).
func printColumns(e *env, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			switch {
			case len(r) == 1:
				b.WriteString(c)
			case i == 0:
				b.WriteString(c + " ")
			case i >= len(r)-2:
				b.WriteString(c)
				if i < len(r)-1 {
					b.WriteByte(' ')
				}
			default:
				fmt.Fprintf(&b, "%*s ", width[i], c)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprint(e.stdout, b.String())
}

// modeString renders a mode like ls(1) does: type character and rwx bits
// with setuid, setgid and sticky.
func modeString(m fs.FileMode) string {
	t := byte('-')
	switch m.Type() {
	case fs.ModeDir:
		t = 'd'
	case fs.ModeSymlink:
		t = 'l'
	case fs.ModeNamedPipe:
		t = 'p'
	case fs.ModeSocket:
		t = 's'
	case fs.ModeDevice:
		t = 'b'
	case fs.ModeDevice | fs.ModeCharDevice:
		t = 'c'
	}
	b := []byte{t}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	special := func(pos int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[pos] == '-' {
			b[pos] = upper
		} else {
			b[pos] = lower
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}
