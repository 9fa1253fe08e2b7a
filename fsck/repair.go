package fsck

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// ActionKind is what a repair does.
type ActionKind int

const (
	// ActMove moves an object into lost+found under a new name.
	ActMove ActionKind = iota + 1
	// ActRemove deletes an orphaned .name file.
	ActRemove
	// ActTruncate truncates a 1..17 byte file to 0 bytes (it read as
	// empty before and does after).
	ActTruncate
	// ActHeader rewrites a damaged header with the one that makes the
	// file's blocks authenticate again.
	ActHeader
	// ActDirIV writes a missing gocryptfs.diriv.
	ActDirIV
	// ActMkdir creates lost+found.
	ActMkdir
	// ActSalvage copies a file with corrupt blocks to lost+found and then
	// replaces each corrupt block of the file with zeros: the readable
	// blocks stay where they are, the lost byte ranges are in Lost.
	ActSalvage
)

var actionNames = map[ActionKind]string{ActMove: "move", ActRemove: "remove", ActTruncate: "truncate",
	ActHeader: "rewrite-header", ActDirIV: "write-diriv", ActMkdir: "mkdir", ActSalvage: "salvage"}

func (k ActionKind) String() string {
	if s, ok := actionNames[k]; ok {
		return s
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is one repair step.
type Action struct {
	Kind       ActionKind
	CipherPath string // the object acted on
	// NewCipherPath and NewPlainPath are where ActMove puts it, where
	// ActSalvage keeps the damaged original, and the directory ActMkdir
	// creates.
	NewCipherPath, NewPlainPath string
	// Lost are the plaintext byte ranges ActSalvage replaced with zeros.
	Lost   []ByteRange
	Detail string // human-readable summary
	Done   bool   // applied (false with DryRun or on error)
	Err    error

	findings []int // indexes into Report.Findings this action resolves
}

func (a *Action) String() string {
	s := a.Kind.String() + " " + a.CipherPath
	if a.NewCipherPath != "" {
		s += " -> " + a.NewCipherPath
	}
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

// fix is what a finding allows Repair to do.
type fix struct {
	move     bool
	isDir    bool
	lfName   string // preferred plaintext name in lost+found
	nameFile string // a .name file to delete with the move
	remove   bool
	truncate bool
	header   []byte // the header to write
	// search: look for the right header (findHeader); if there is none,
	// salvage the file if salvage is set, else move it to lost+found.
	search bool
	// salvage: zero the corrupt blocks (runs) after copying the file to
	// lost+found.
	salvage bool
	runs    []BlockRun
	// diriv: write this IV (nil: a fresh random one) after moving the
	// entries in moveChildren to lost+found.
	diriv        bool
	iv           []byte
	recovered    bool // iv is the recovered one
	moveChildren []dirEntry
}

// pathIV is the reverse-mode IV derivation (§10.3): sha256(path || 0 ||
// purpose)[:16]. A forward copy of a reverse view has such directory IVs.
func pathIV(cpath, purpose string) []byte {
	if cpath == "." {
		cpath = ""
	}
	h := sha256.Sum256([]byte(cpath + "\x00" + purpose))
	return h[:16]
}

// planDirIV decides how to replace the missing diriv of directory cpath:
// with the reverse-mode IV if every child name decrypts with it, with a
// fresh one if the directory is empty, else with a fresh one after moving
// the children (whose names are lost) to lost+found.
func (c *checker) planDirIV(cpath string, entries []dirEntry) *fix {
	if len(entries) == 0 {
		return &fix{diriv: true}
	}
	iv := pathIV(cpath, "DIRIV")
	ok := true
	for _, e := range entries {
		if names.IsLongName(e.stored) {
			full, err := layout.ReadLongName(c.s, c.nt, cpath, e.stored)
			if err != nil {
				ok = false
				break
			}
			e.stored = full
		}
		if _, err := c.nt.DecryptName(e.stored, iv); err != nil {
			ok = false
			break
		}
	}
	if ok {
		return &fix{diriv: true, iv: iv, recovered: true}
	}
	return &fix{diriv: true, moveChildren: entries}
}

// lostName is the lost+found name for an object with plaintext path p.
func lostName(p string) string {
	if p == "" {
		return "unnamed"
	}
	return strings.ReplaceAll(p, "/", "_")
}

// placement is a new entry in lost+found: its ciphertext path, plaintext
// path and, for a long name, the full encrypted name for its .name file.
type placement struct {
	dst, plain, full string
	long             bool
}

// step is a planned action with what it needs.
type step struct {
	a     Action
	depth int // for moves: deeper first
	run   func(*Action) error
	order int
}

// repair plans and (unless DryRun) applies the fixes the findings allow:
//
//   - a damaged header whose blocks authenticate with a recovered header
//     (version fixed or one damaged file-ID byte restored) is rewritten;
//
//   - a 1..17 byte file (reads as empty) is truncated to 0 bytes;
//
//   - an orphaned .name file is removed;
//
//   - a missing gocryptfs.diriv is written again: with the reverse-mode
//     IV when every name in the directory decrypts with it, else with a
//     fresh IV after moving the directory's entries (whose names cannot be
//     decrypted any more) to lost+found;
//
//   - an entry whose name or .name file does not decrypt, and a file
//     whose header cannot be recovered, are moved to lost+found in the
//     vault root (created if needed) under a new encrypted name: the
//     stored ciphertext name for undecryptable names (so nothing is lost
//     if the right IV turns up), the plaintext path with "/" replaced by
//     "_" for damaged files; "~N" is appended on collisions. Content keeps
//     its file ID, so a file whose only problem was its name is readable
//     there. Config backups in the root (gocryptfs.conf.*) are left alone,
//     and so are the entries of a directory where none of several names
//     decrypts (its IV, not every name, is the likely damage).
//
//   - a file with corrupt blocks (left so by a recovered header, or with
//     no header that makes any block authenticate) is salvaged: it is
//     copied as it is to lost+found (under its plaintext path with "/"
//     replaced by "_"), then each corrupt block is replaced in place with
//     zeros: a full block by a hole (§5.5), the last, partial one by
//     zeros sealed under the file's ID. Readable blocks, the file's
//     inode, owner, mode, xattrs and hard links stay; the action lists the
//     plaintext byte ranges now zero.
//
// Symlink targets and xattrs that do not decrypt are only reported: no
// repair can restore them, and removing them would lose the readable rest.
func (c *checker) repair(ctx context.Context, rep *Report) error {
	var steps []*step
	moved := map[string]bool{}
	var lfCpath, lfPlain string
	var lfIV []byte
	lfTaken := map[string]bool{}
	var lfErr error
	lfReady := false

	// ensureLF finds or plans lost+found.
	ensureLF := func() error {
		if lfReady || lfErr != nil {
			return lfErr
		}
		lfReady = true
		lfCpath, lfIV, lfErr = c.findLostFound(lfTaken)
		lfPlain = c.lf
		if lfErr != nil || lfCpath != "" {
			return lfErr
		}
		// Create it.
		rootIV, err := c.rootIV()
		if err != nil {
			lfErr = fmt.Errorf("cannot create %s: %w", c.lf, err)
			return lfErr
		}
		stored := c.lf
		if c.nt != nil {
			full, err := c.nt.EncryptName(c.lf, rootIV)
			if err != nil {
				lfErr = err
				return err
			}
			stored, _ = c.nt.Shorten(full)
		}
		lfCpath = stored
		if c.dirIV {
			lfIV = make([]byte, names.DirIVSize)
			if _, err := rand.Read(lfIV); err != nil {
				lfErr = err
				return err
			}
		} else {
			lfIV = make([]byte, names.DirIVSize)
		}
		iv := lfIV
		steps = append(steps, &step{order: 2, a: Action{Kind: ActMkdir, CipherPath: lfCpath, NewPlainPath: c.lf, Detail: "create the quarantine directory"},
			run: func(*Action) error {
				if err := c.s.Mkdir(lfCpath, 0o700); err != nil {
					return err
				}
				if c.dirIV {
					_, err := layout.WriteDirIV(c.s, lfCpath, iv)
					return err
				}
				return nil
			}})
		return nil
	}
	// place picks a free name in lost+found for an object with preferred
	// plaintext name want.
	place := func(want string) placement {
		name := want
		if len(name) > names.MaxNameLen {
			name = name[:names.MaxNameLen]
		}
		if names.CheckPlain(name) != nil {
			name = "unnamed"
		}
		base := name
		for i := 1; lfTaken[name]; i++ {
			suf := "~" + strconv.Itoa(i)
			name = base[:min(len(base), names.MaxNameLen-len(suf))] + suf
		}
		lfTaken[name] = true
		stored, full, long := name, name, false
		if c.nt != nil {
			full, _ = c.nt.EncryptName(name, lfIV)
			stored, long = c.nt.Shorten(full)
		}
		return placement{dst: layout.Join(lfCpath, stored), plain: path.Join(lfPlain, name), full: full, long: long}
	}
	addMove := func(idx []int, cpath string, fx *fix, isDir bool) {
		if moved[cpath] {
			// Already moving: just note that this finding is covered.
			for _, s := range steps {
				if s.a.Kind == ActMove && s.a.CipherPath == cpath {
					s.a.findings = append(s.a.findings, idx...)
				}
			}
			return
		}
		moved[cpath] = true
		a := Action{Kind: ActMove, CipherPath: cpath, findings: idx}
		if err := ensureLF(); err != nil {
			a.Err = err
			steps = append(steps, &step{order: 3, a: a, run: func(*Action) error { return err }})
			return
		}
		pl := place(fx.lfName)
		dst := pl.dst
		a.NewCipherPath, a.NewPlainPath = dst, pl.plain
		if isDir {
			a.Detail = "directory"
		}
		nameFile := fx.nameFile
		steps = append(steps, &step{order: 3, depth: strings.Count(cpath, "/"), a: a, run: func(*Action) error {
			if pl.long {
				if err := layout.WriteNew(c.s, layout.LongNamePath(dst), []byte(pl.full), true); err != nil {
					return err
				}
			}
			if err := c.renameNoReplace(cpath, dst); err != nil {
				if pl.long {
					c.s.Remove(layout.LongNamePath(dst))
				}
				return err
			}
			if nameFile != "" {
				if err := c.s.Remove(nameFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			return nil
		}})
	}
	// addSalvage plans the salvage of the file at cpath, whose corrupt
	// blocks were runs when checked (the salvage checks again).
	addSalvage := func(idx int, cpath string, fx *fix, plainSize int64) {
		a := Action{Kind: ActSalvage, CipherPath: cpath, findings: []int{idx}}
		if err := ensureLF(); err != nil {
			a.Err = err
			steps = append(steps, &step{order: 3, a: a, run: func(*Action) error { return err }})
			return
		}
		pl := place(fx.lfName)
		a.NewCipherPath, a.NewPlainPath = pl.dst, pl.plain
		a.Lost = lostRanges(fx.runs, plainSize)
		a.Detail = salvageDetail(a.Lost, plainSize, pl.plain)
		// Before a move of an ancestor (moves run deepest first).
		steps = append(steps, &step{order: 3, depth: strings.Count(cpath, "/") + 1, a: a, run: func(a *Action) error {
			size, runs, err := c.salvage(cpath, pl)
			if err != nil {
				return err
			}
			if !slices.Equal(runs, fx.runs) {
				a.Lost = lostRanges(runs, c.codec.PlainSize(size))
				a.Detail = salvageDetail(a.Lost, c.codec.PlainSize(size), pl.plain)
			}
			return nil
		}})
	}

	// Fresh directory IVs are drawn now: lost+found's name depends on the
	// root's.
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.fix != nil && f.fix.diriv && f.fix.iv == nil {
			f.fix.iv = make([]byte, names.DirIVSize)
			if _, err := rand.Read(f.fix.iv); err != nil {
				return err
			}
			if path.Dir(f.CipherPath) == "." {
				c.newRootIV = f.fix.iv
			}
		}
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		fx := f.fix
		if fx == nil {
			continue
		}
		cp := f.CipherPath
		if fx.search {
			hdr, err := c.findHeader(cp)
			switch {
			case err != nil:
				continue
			case hdr != nil:
				// Blocks that do not authenticate with the recovered
				// header either are salvaged after it is written.
				runs, err := c.scanPath(cp, hdr[2:])
				if err != nil {
					continue
				}
				hfx := &fix{header: hdr}
				if len(runs) > 0 {
					hfx.salvage, hfx.runs, hfx.lfName = true, runs, fx.lfName
				}
				fx = hfx
			case fx.salvage:
				fx = &fix{salvage: true, runs: fx.runs, lfName: fx.lfName}
			default:
				fx = &fix{move: true, lfName: fx.lfName}
			}
		}
		if fx.salvage {
			size, err := c.fileSize(cp)
			if err != nil {
				continue
			}
			addSalvage(i, cp, fx, c.codec.PlainSize(size))
		}
		switch {
		case fx.header != nil:
			hdr := fx.header
			a := Action{Kind: ActHeader, CipherPath: cp, findings: []int{i},
				Detail: "the recovered header authenticates the file's blocks"}
			if fx.salvage {
				// The salvage resolves the finding.
				a.findings = nil
				a.Detail = fmt.Sprintf("the recovered header authenticates all but %d of the file's blocks", countBlocks(fx.runs))
			}
			steps = append(steps, &step{order: 0, a: a,
				run: func(a *Action) error { return c.rewriteHeader(cp, hdr) }})
		case fx.truncate:
			steps = append(steps, &step{order: 0, a: Action{Kind: ActTruncate, CipherPath: cp, findings: []int{i},
				Detail: "shorter than a header; was and stays an empty file"},
				run: func(*Action) error { return c.truncateShort(cp) }})
		case fx.remove:
			steps = append(steps, &step{order: 0, a: Action{Kind: ActRemove, CipherPath: cp, findings: []int{i},
				Detail: "orphaned long-name file"},
				run: func(*Action) error { return c.s.Remove(cp) }})
		case fx.diriv:
			dir := path.Dir(cp)
			iv := fx.iv
			detail := "the directory is empty: fresh IV"
			switch {
			case fx.recovered:
				detail = "recovered IV (every name decrypts with it)"
			case len(fx.moveChildren) > 0:
				detail = fmt.Sprintf("fresh IV; %d entries whose names are lost go to %s", len(fx.moveChildren), c.lf)
				if len(fx.moveChildren) == 1 {
					detail = "fresh IV; the entry whose name is lost goes to " + c.lf
				}
			}
			for _, e := range fx.moveChildren {
				chfx := &fix{move: true, isDir: e.typ.IsDir(), lfName: e.stored}
				if names.IsLongName(e.stored) {
					chfx.nameFile = layout.Join(dir, e.stored) + names.LongNameSuffix
				}
				addMove([]int{i}, layout.Join(dir, e.stored), chfx, e.typ.IsDir())
			}
			steps = append(steps, &step{order: 1, a: Action{Kind: ActDirIV, CipherPath: cp, findings: []int{i}, Detail: detail},
				run: func(*Action) error {
					_, err := layout.WriteDirIV(c.s, path.Dir(cp), iv)
					return err
				}})
		case fx.move:
			addMove([]int{i}, cp, fx, fx.isDir)
		}
	}
	// In-place fixes first (paths still valid), then the dirivs, then
	// lost+found, then moves, deepest first so that a moved directory's
	// damaged children have left it already.
	slices.SortStableFunc(steps, func(a, b *step) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return b.depth - a.depth
	})
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.a.Err == nil && !c.opts.DryRun {
			if err := s.run(&s.a); err != nil {
				s.a.Err = err
			} else {
				s.a.Done = true
			}
		}
		rep.Actions = append(rep.Actions, s.a)
		if c.opts.OnAction != nil {
			c.opts.OnAction(s.a)
		}
	}
	return nil
}

// rootIV returns the root directory's IV (zero without DirIV).
func (c *checker) rootIV() ([]byte, error) {
	if c.nt == nil {
		return nil, nil
	}
	if !c.dirIV {
		return make([]byte, names.DirIVSize), nil
	}
	if c.newRootIV != nil {
		return c.newRootIV, nil
	}
	return c.readDirIV(".")
}

// findLostFound looks for an existing lost+found directory in the root;
// it returns "" if there is none. The names already used in it are added
// to taken.
func (c *checker) findLostFound(taken map[string]bool) (cpath string, iv []byte, err error) {
	rootIV, err := c.rootIV()
	if err != nil {
		return "", nil, nil // no root IV: lost+found cannot be found (or made)
	}
	stored := c.lf
	if c.nt != nil {
		full, err := c.nt.EncryptName(c.lf, rootIV)
		if err != nil {
			return "", nil, err
		}
		stored, _ = c.nt.Shorten(full)
	}
	fi, err := c.s.Lstat(stored)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() {
		return "", nil, fmt.Errorf("%s exists and is not a directory", c.lf)
	}
	iv = make([]byte, names.DirIVSize)
	if c.dirIV {
		if iv, err = c.readDirIV(stored); err != nil {
			return "", nil, fmt.Errorf("%s: %w", c.lf, err)
		}
	}
	d, err := c.s.OpenFile(stored, os.O_RDONLY|store.ODirectory, 0)
	if err != nil {
		return "", nil, err
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return "", nil, err
	}
	nameFiles := map[string]bool{}
	for _, de := range des {
		if names.IsLongNameFile(de.Name()) {
			nameFiles[de.Name()] = false
		}
	}
	for _, de := range des {
		n := de.Name()
		if c.nt == nil {
			taken[n] = true
			continue
		}
		if n == names.DirIVFile || names.IsLongNameFile(n) {
			continue
		}
		if p, err := c.decryptEntry(stored, n, iv, nameFiles); err == nil {
			taken[p] = true
		}
	}
	return stored, iv, nil
}

// renameNoReplace renames oldname to newname, which must not exist: in
// one step where the store has RENAME_NOREPLACE, else after a check (the
// vault is not in use while fsck repairs it).
func (c *checker) renameNoReplace(oldname, newname string) error {
	if r, ok := c.s.(store.Renamer2); ok {
		err := r.Rename2(oldname, newname, renameNoReplace)
		if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	if _, err := c.s.Lstat(newname); err == nil {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.s.Rename(oldname, newname)
}

// renameNoReplace is RENAME_NOREPLACE of renameat2(2).
const renameNoReplace = 1

// rewriteHeader overwrites the first 18 bytes of a file.
func (c *checker) rewriteHeader(cpath string, hdr []byte) error {
	return c.withWritable(cpath, os.O_WRONLY, func(f store.File) error {
		if _, err := f.WriteAt(hdr, 0); err != nil {
			return err
		}
		return f.Sync()
	})
}

// truncateShort truncates a file that is still shorter than a header.
func (c *checker) truncateShort(cpath string) error {
	return c.withWritable(cpath, os.O_WRONLY, func(f store.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() >= 18 {
			return errors.New("file has grown since the check")
		}
		return f.Truncate(0)
	})
}

// withWritable opens a file for writing (flag O_WRONLY or O_RDWR), adding
// owner write permission for the time it takes if needed (ciphertext
// files may be read-only).
func (c *checker) withWritable(cpath string, flag int, fn func(store.File) error) error {
	fi, err := c.s.Lstat(cpath)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", cpath)
	}
	perm := fi.Mode().Perm()
	if perm&0o200 == 0 {
		if err := c.s.Chmod(cpath, perm|0o200); err != nil {
			return err
		}
		defer c.s.Chmod(cpath, perm)
	}
	f, err := c.s.OpenFile(cpath, flag, 0)
	if err != nil {
		return err
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
