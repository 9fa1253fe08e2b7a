package sealfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// fileInfo is the plaintext view of a ciphertext object.
type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sys   any  // when the store's Sys is not a *Stat
	st    Stat // the store's *Stat with the plaintext size
	hasSt bool
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any {
	if fi.hasSt {
		return &fi.st
	}
	return fi.sys
}
func (fi *fileInfo) String() string { return fs.FormatFileInfo(fi) }

func newFileInfo(name string, cfi fs.FileInfo, size int64) *fileInfo {
	fi := &fileInfo{name: name, size: size, mode: cfi.Mode(), mtime: cfi.ModTime()}
	switch sys := cfi.Sys().(type) {
	case *Stat:
		fi.st, fi.hasSt = *sys, true
		fi.st.Size = size
	default:
		fi.sys = sys
	}
	return fi
}

// plainInfo translates the ciphertext metadata cfi of located entry l.
func (f *FS) plainInfo(l *entryLoc, cfi fs.FileInfo) (fs.FileInfo, error) {
	_, base := splitPath(l.plain)
	if l.plain == "." {
		base = "."
	}
	size := cfi.Size()
	switch {
	case cfi.Mode().IsRegular():
		size = f.codec.PlainSize(size)
	case cfi.Mode()&fs.ModeSymlink != 0:
		target, err := f.readlinkLoc(l)
		if err != nil {
			// Still describe the object; Readlink reports the error.
			f.reportCorrupt(l.plain, err)
		} else {
			size = int64(len(target))
		}
	}
	return newFileInfo(base, cfi, size), nil
}

// Lstat returns metadata of the named object without following a final
// symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	if err := f.checkPath("lstat", name); err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	err := f.retryNotDir(name, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		cfi, err := f.store.Lstat(l.cpath)
		if err != nil {
			return err
		}
		fi, err = f.plainInfo(&l, cfi)
		return err
	})
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	return fi, nil
}

// Stat returns metadata of the named object, following symlinks (fs.StatFS).
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if err := f.checkPath("stat", name); err != nil {
		return nil, err
	}
	real, err := f.follow(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	fi, err := f.Lstat(real)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	if real != name {
		if i, ok := fi.(*fileInfo); ok {
			_, i.name = splitPath(name)
		}
	}
	return fi, nil
}

// dirEntry is one entry of a plaintext directory listing.
type dirEntry struct {
	f     *FS
	loc   entryLoc
	typ   fs.FileMode
	info  fs.FileInfo
	name  string
	infoE error
	ino   uint64 // from the store's listing; 0 when unknown
}

func (e *dirEntry) Name() string      { return e.name }
func (e *dirEntry) IsDir() bool       { return e.typ.IsDir() }
func (e *dirEntry) Type() fs.FileMode { return e.typ }

// Ino is the inode number of the entry as the store's listing gave it
// (what Lstat reports as Stat.Ino), or 0 where the store does not tell
// (InoDirEntry).
func (e *dirEntry) Ino() uint64 { return e.ino }
func (e *dirEntry) Info() (fs.FileInfo, error) {
	if e.info != nil || e.infoE != nil {
		return e.info, e.infoE
	}
	cfi, err := e.f.store.Lstat(e.loc.cpath)
	if err != nil {
		return nil, pathErr("lstat", e.loc.plain, err)
	}
	return e.f.plainInfo(&e.loc, cfi)
}
func (e *dirEntry) String() string { return fs.FormatDirEntry(e) }

// listDir reads and decrypts all entries of the located directory.
// Undecryptable entries are reported through OnCorrupt and left out.
func (f *FS) listDir(plain string, d dirLoc, sf StoreFile) ([]fs.DirEntry, error) {
	ents, err := sf.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, ce := range ents {
		stored := ce.Name()
		if f.hidden(d.cpath, stored) {
			continue
		}
		l := entryLoc{dir: d, stored: stored, full: stored, cpath: layout.Join(d.cpath, stored)}
		name, err := f.decryptEntry(&l)
		if err != nil {
			f.reportCorrupt(plainDisplay(plain), fmt.Errorf("undecryptable name %q in directory %q: %w", l.cpath, plainDisplay(plain), err))
			if !f.badNameMatch(stored) {
				continue
			}
			// Options.BadNames: shown under a name that locate resolves.
			l.full, l.long = stored, false
			name = f.badNameShown(d, stored)
		}
		if !f.plainNames && !l.long && err == nil && names.CheckPlain(name) == nil {
			// The lookups that follow a listing need not encrypt again
			// (strict base64 makes the encryption of name exactly stored;
			// a long name's hash is not checked here, so it is left out).
			f.names.put(newNameKey(d, name), nameVal{stored: l.stored, full: l.full, cpath: l.cpath, long: l.long})
		}
		l.plain = name
		if plain != "." {
			l.plain = plain + "/" + name
		}
		de := &dirEntry{f: f, name: name, typ: ce.Type(), loc: l}
		if ie, ok := ce.(InoDirEntry); ok {
			de.ino = ie.Ino()
		}
		out = append(out, de)
	}
	return out, nil
}

// decryptEntry fills in l.full and l.long for a stored name and returns
// the plaintext name.
func (f *FS) decryptEntry(l *entryLoc) (string, error) {
	if f.plainNames {
		return l.stored, nil
	}
	if names.IsLongName(l.stored) {
		if f.opts.NoLongNames {
			// As gocryptfs with -longnames=false: not a name it can decrypt.
			return "", corrupt("hashed long name "+l.stored+" with long names turned off", nil)
		}
		full, err := f.readLongName(l.dir.cpath, l.stored)
		if err != nil {
			return "", err
		}
		l.full, l.long = full, true
	}
	return f.nt.DecryptName(l.full, l.dir.iv)
}

func plainDisplay(p string) string {
	if p == "." {
		return ""
	}
	return p
}

// ReadDir reads the named directory and returns its entries sorted by name
// (fs.ReadDirFS). Entries whose names cannot be decrypted are left out and
// reported through Options.OnCorrupt.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := f.readDirDirect(name)
	if err != nil {
		if ents, err = f.readDirOpen(name); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// readDirOpen lists directory name through OpenFile, which follows
// symlinks and says what is wrong with name.
func (f *FS) readDirOpen(name string) ([]fs.DirEntry, error) {
	file, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, pathErr("readdir", name, unwrapPath(err))
	}
	defer file.Close()
	return file.ReadDir(-1)
}

// readDirDirect lists directory name by opening its ciphertext directory
// straight away, without the stat by which OpenFile learns what it opens.
// Any error (a symlink on the way, not a directory) leaves the answer to
// the general path.
func (f *FS) readDirDirect(name string) ([]fs.DirEntry, error) {
	if err := f.checkPath("readdir", name); err != nil {
		return nil, err
	}
	d, err := f.dir(name)
	if err != nil {
		return nil, err
	}
	sf, err := f.store.OpenFile(d.cpath, os.O_RDONLY|store.ODirectory|store.ONoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	return f.listDir(name, d, sf)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadDir reads the directory's entries (fs.ReadDirFile): all remaining
// ones for n <= 0, else at most n, with io.EOF at the end.
func (file *File) ReadDir(n int) ([]fs.DirEntry, error) {
	file.mu.Lock()
	defer file.mu.Unlock()
	if err := file.checkOpen("readdir"); err != nil {
		return nil, err
	}
	if file.dir == nil {
		return nil, &fs.PathError{Op: "readdir", Path: file.name, Err: syscall.ENOTDIR}
	}
	if !file.listed {
		sf := file.dir
		if file.dirUsed {
			// Listing again after a rewind: start from a fresh handle.
			var err error
			sf, err = file.fsys.store.OpenFile(file.dloc.cpath, os.O_RDONLY|store.ODirectory, 0)
			if err != nil {
				return nil, pathErr("readdir", file.name, err)
			}
			defer sf.Close()
		}
		file.dirUsed = true
		ents, err := file.fsys.listDir(file.name, file.dloc, sf)
		if err != nil {
			return nil, pathErr("readdir", file.name, err)
		}
		file.entries, file.listed = ents, true
	}
	if n <= 0 {
		ents := file.entries
		file.entries = nil
		if ents == nil {
			ents = []fs.DirEntry{}
		}
		return ents, nil
	}
	if len(file.entries) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(file.entries))
	ents := file.entries[:k:k]
	file.entries = file.entries[k:]
	return ents, nil
}

// ReadDirNames returns the names of all remaining entries.
func (file *File) ReadDirNames() ([]string, error) {
	ents, err := file.ReadDir(-1)
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, err
}
