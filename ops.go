package sealfs

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// ReadFile reads the whole named file (fs.ReadFileFS).
func (f *FS) ReadFile(name string) ([]byte, error) {
	file, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if file.node == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	file.node.mu.RLock()
	size, err := file.node.cf.Size()
	file.node.mu.RUnlock()
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	// One byte more than the size, so that a file that grows meanwhile is
	// noticed, and so that even an "empty" file is really read (a damaged
	// header must give an error, not an empty result).
	buf := make([]byte, size+1)
	var n int
	for {
		c, err := file.ReadAt(buf[n:], int64(n))
		n += c
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
}

// WriteFile writes data to the named file, creating it with perm if needed
// and truncating it otherwise (os.WriteFile).
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	file, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = file.WriteAt(data, 0)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mkdir creates a directory (os.Mkdir). The process umask applies as with
// os.Mkdir.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	if err := f.checkWrite("mkdir", name); err != nil {
		return err
	}
	return pathErr("mkdir", name, f.retryNotDir(name, func(p string) error { return f.mkdir(p, perm) }))
}

func (f *FS) mkdir(p string, perm fs.FileMode) error {
	if p == "." {
		return fs.ErrExist
	}
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	undo, err := f.createLongName(&l)
	if err != nil {
		return err
	}
	if !f.dirIV {
		if err := f.store.Mkdir(l.cpath, perm); err != nil {
			undo()
			return err
		}
		return nil
	}
	// The directory must be writable for us to create its IV file.
	if err := f.store.Mkdir(l.cpath, perm|0o700); err != nil {
		undo()
		return err
	}
	if err := f.writeDirIV(l.cpath); err != nil {
		f.store.Remove(l.cpath)
		undo()
		return err
	}
	if perm&0o700 != 0o700 {
		fi, err := f.store.Lstat(l.cpath)
		if err == nil {
			// Keep what umask and an inherited setgid bit made of the mode,
			// minus the owner bits we added.
			mode := fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky)&^(0o700&^perm) | 0
			err = f.store.Chmod(l.cpath, mode)
		}
		if err != nil {
			f.removeDir(&l)
			undo()
			return err
		}
	}
	f.dirs.forget(p)
	return nil
}

// MkdirAll creates a directory and all missing parents (os.MkdirAll).
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.checkWrite("mkdir", name); err != nil {
		return err
	}
	if fi, err := f.Stat(name); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	}
	if parent, _ := splitPath(name); parent != "." {
		if err := f.MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	err := f.Mkdir(name, perm)
	if err != nil {
		if fi, err2 := f.Lstat(name); err2 == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}

// Remove removes a file, symlink or empty directory (os.Remove).
func (f *FS) Remove(name string) error {
	return f.removeOp("remove", name, syscall.EBUSY, f.remove)
}

// removeOp runs a removal of name: rm on its path (again through the
// symlinks in the path on ENOTDIR), dotErr for the root.
func (f *FS) removeOp(op, name string, dotErr syscall.Errno, rm func(p string) error) error {
	if err := f.checkWrite(op, name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: op, Path: name, Err: dotErr}
	}
	return pathErr(op, name, f.retryNotDir(name, rm))
}

func (f *FS) remove(p string) error {
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	// Most removals are of files: try that first, without a stat.
	err = f.unlinkAt(&l)
	if isErrno(err, syscall.EISDIR) {
		return f.rmdirAt(p, &l)
	}
	return err
}

// Unlink removes a file, symlink or other non-directory, like unlink(2):
// unlike Remove it fails with EISDIR, and removes nothing, when name is a
// directory.
func (f *FS) Unlink(name string) error {
	return f.removeOp("unlink", name, syscall.EISDIR, f.unlink)
}

func (f *FS) unlink(p string) error {
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	return f.unlinkAt(&l)
}

// unlinkAt removes the non-directory at l and its long-name file; EISDIR
// (and nothing removed) for a directory.
func (f *FS) unlinkAt(l *entryLoc) error {
	var err error
	if fr, ok := f.store.(store.FileRemover); ok {
		err = fr.RemoveFile(l.cpath)
		if isErrno(err, syscall.EPERM) {
			// Some systems say EPERM for a directory: tell the two apart.
			if fi, lerr := f.store.Lstat(l.cpath); lerr == nil && fi.IsDir() {
				err = syscall.EISDIR
			}
		}
	} else {
		var fi fs.FileInfo
		if fi, err = f.store.Lstat(l.cpath); err == nil {
			if fi.IsDir() {
				err = syscall.EISDIR
			} else {
				err = f.store.Remove(l.cpath)
			}
		}
	}
	if err != nil {
		return err
	}
	f.removeLongName(l)
	return nil
}

// Rmdir removes an empty directory, like rmdir(2): unlike Remove it fails
// with ENOTDIR, and removes nothing, when name is not a directory.
func (f *FS) Rmdir(name string) error {
	return f.removeOp("rmdir", name, syscall.EBUSY, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		if _, ok := f.store.(store.DirRemover); !ok {
			// Only a store that removes directories alone can be trusted
			// not to remove a file here.
			fi, err := f.store.Lstat(l.cpath)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return syscall.ENOTDIR
			}
		}
		return f.rmdirAt(p, &l)
	})
}

// rmdirAt removes directory p (located at l) and what belongs to its entry.
func (f *FS) rmdirAt(p string, l *entryLoc) error {
	if err := f.removeDir(l); err != nil {
		return err
	}
	f.removeLongName(l)
	f.dirs.forget(p)
	return nil
}

// storeRmdir removes the ciphertext directory cpath, and nothing else
// where the store can promise that.
func (f *FS) storeRmdir(cpath string) error {
	if dr, ok := f.store.(store.DirRemover); ok {
		return dr.RemoveDir(cpath)
	}
	return f.store.Remove(cpath)
}

// removeDir removes the ciphertext directory of l, which must be empty in
// plaintext terms (it may hold its gocryptfs.diriv).
func (f *FS) removeDir(l *entryLoc) error {
	if !f.dirIV {
		return f.storeRmdir(l.cpath)
	}
	// Move the IV out of the way first, so that rmdir can succeed; undo it
	// if the directory turns out not to be empty.
	ivPath := layout.Join(l.cpath, names.DirIVFile)
	var r [8]byte
	rand.Read(r[:])
	tmp := layout.Join(l.dir.cpath, layout.RmdirPrefix+strconv.FormatUint(binary.BigEndian.Uint64(r[:]), 10))
	if err := f.store.Rename(ivPath, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// No IV (or no directory): rmdir says which.
			return f.storeRmdir(l.cpath)
		}
		return err
	}
	if err := f.storeRmdir(l.cpath); err != nil {
		if rerr := f.store.Rename(tmp, ivPath); rerr != nil {
			f.log.Error("could not restore directory IV", "path", l.plain, "err", rerr)
		}
		if isErrno(err, syscall.EEXIST) {
			err = syscall.ENOTEMPTY
		}
		return err
	}
	if err := f.store.Remove(tmp); err != nil {
		f.log.Warn("could not remove old directory IV", "path", tmp, "err", err)
	}
	return nil
}

// RemoveAll removes name and everything below it (os.RemoveAll). A missing
// name is not an error.
func (f *FS) RemoveAll(name string) error {
	if err := f.checkWrite("removeall", name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "removeall", Path: name, Err: syscall.EINVAL}
	}
	fi, err := f.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		ents, err := f.ReadDir(name)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := f.RemoveAll(name + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	err = f.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Rename flags for Rename2 (as renameat2(2)).
const (
	RenameNoReplace = 1 << 0 // fail with fs.ErrExist if newname exists
	RenameExchange  = 1 << 1 // atomically swap oldname and newname
	// RenameWhiteout leaves a whiteout (a character device 0:0, as
	// overlayfs reads it) at oldname in the same step; it needs the
	// right to create device nodes, as on a local file system.
	RenameWhiteout = 1 << 2
)

// Rename renames (moves) oldname to newname (os.Rename). An existing file
// or empty directory at newname is replaced.
func (f *FS) Rename(oldname, newname string) error {
	return f.Rename2(oldname, newname, 0)
}

// Rename2 is Rename with renameat2(2) flags: RenameNoReplace,
// RenameExchange or RenameWhiteout (with RenameNoReplace or alone).
// Stores without flag support give errors.ErrUnsupported for non-zero
// flags.
func (f *FS) Rename2(oldname, newname string, flags uint) error {
	if err := f.checkWrite("rename", oldname); err != nil {
		return err
	}
	if err := f.checkWrite("rename", newname); err != nil {
		return err
	}
	if oldname == "." || newname == "." {
		return &fs.PathError{Op: "rename", Path: oldname, Err: syscall.EBUSY}
	}
	if flags&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 || flags&RenameExchange != 0 && flags != RenameExchange {
		return &fs.PathError{Op: "rename", Path: oldname, Err: syscall.EINVAL}
	}
	err := f.rename(oldname, newname, flags)
	if err != nil && isErrno(err, syscall.ENOTDIR, syscall.ELOOP) {
		ro, err1 := f.realPath(oldname, false)
		rn, err2 := f.realPath(newname, false)
		if err1 == nil && err2 == nil && (ro != oldname || rn != newname) {
			err = f.rename(ro, rn, flags)
		}
	}
	return pathErr("rename", oldname, err)
}

func (f *FS) rename(oldp, newp string, flags uint) error {
	if oldp == newp {
		_, err := f.locate(oldp)
		return err
	}
	if strings.HasPrefix(newp, oldp+"/") {
		return syscall.EINVAL
	}
	ol, err := f.locate(oldp)
	if err != nil {
		return err
	}
	nl, err := f.locate(newp)
	if err != nil {
		return err
	}
	ofi, err := f.store.Lstat(ol.cpath)
	if err != nil {
		return err
	}
	var do func() error
	switch flags {
	case 0:
		do = func() error { return f.store.Rename(ol.cpath, nl.cpath) }
	default:
		rs, ok := f.store.(store.Renamer2)
		if !ok {
			return errors.ErrUnsupported
		}
		do = func() error { return rs.Rename2(ol.cpath, nl.cpath, flags) }
	}
	if flags&RenameExchange != 0 {
		// Names stay where they are, only the objects swap: the .name files
		// are still right.
		if err := do(); err != nil {
			return err
		}
		f.dirs.forget(oldp)
		f.dirs.forget(newp)
		return nil
	}
	undo, err := f.createLongName(&nl)
	if err != nil {
		return err
	}
	err = do()
	if err != nil && ofi.IsDir() && flags == 0 && isErrno(err, syscall.ENOTEMPTY, syscall.EEXIST) {
		// The target is a directory that holds only its IV file: remove it
		// and try again.
		if nfi, lerr := f.store.Lstat(nl.cpath); lerr == nil && nfi.IsDir() {
			if empty, _ := f.dirEmpty(newp); empty {
				if rerr := f.removeDir(&nl); rerr == nil {
					f.dirs.forget(newp)
					err = do()
				}
			}
		}
	}
	if err != nil {
		undo()
		return err
	}
	// The old long name's .name file stays for the whiteout there.
	if flags&RenameWhiteout == 0 && (ol.long && ol.stored != nl.stored || ol.long && ol.dir.cpath != nl.dir.cpath) {
		f.removeLongName(&ol)
	}
	if ofi.IsDir() {
		f.dirs.forget(oldp)
		f.dirs.forget(newp)
	}
	return nil
}

// dirEmpty reports whether the plaintext directory p has no entries.
func (f *FS) dirEmpty(p string) (bool, error) {
	ents, err := f.ReadDir(p)
	if err != nil {
		return false, err
	}
	return len(ents) == 0, nil
}

// Symlink creates newname as a symbolic link to target (os.Symlink). The
// target is encrypted unless the vault uses plaintext names.
func (f *FS) Symlink(target, newname string) error {
	if err := f.checkWrite("symlink", newname); err != nil {
		return err
	}
	if target == "" {
		return &fs.PathError{Op: "symlink", Path: newname, Err: syscall.ENOENT}
	}
	ctarget := target
	if !f.plainNames {
		ctarget = layout.EncryptTarget(f.codec, f.nt, target)
		if len(ctarget) > 4095 {
			return &fs.PathError{Op: "symlink", Path: newname, Err: ErrNameTooLong}
		}
	}
	return pathErr("symlink", newname, f.retryNotDir(newname, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		undo, err := f.createLongName(&l)
		if err != nil {
			return err
		}
		if err := f.store.Symlink(ctarget, l.cpath); err != nil {
			undo()
			return err
		}
		return nil
	}))
}

// ReadLink returns the target of the named symlink (fs.ReadLinkFS).
func (f *FS) ReadLink(name string) (string, error) {
	if err := f.checkPath("readlink", name); err != nil {
		return "", err
	}
	var target string
	err := f.retryNotDir(name, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		target, err = f.readlinkLoc(&l)
		return err
	})
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	return target, nil
}

// Readlink is ReadLink with the name os uses.
func (f *FS) Readlink(name string) (string, error) { return f.ReadLink(name) }

func (f *FS) readlinkLoc(l *entryLoc) (string, error) {
	ct, err := f.store.Readlink(l.cpath)
	if err != nil {
		return "", err
	}
	if f.plainNames {
		return ct, nil
	}
	return layout.DecryptTarget(f.codec, f.nt, ct)
}

// Link creates newname as a hard link to oldname (os.Link).
func (f *FS) Link(oldname, newname string) error {
	if err := f.checkWrite("link", oldname); err != nil {
		return err
	}
	if err := f.checkWrite("link", newname); err != nil {
		return err
	}
	ol, err := f.locate(oldname)
	if err != nil {
		return pathErr("link", oldname, err)
	}
	nl, err := f.locate(newname)
	if err != nil {
		return pathErr("link", newname, err)
	}
	undo, err := f.createLongName(&nl)
	if err != nil {
		return pathErr("link", newname, err)
	}
	if err := f.store.Link(ol.cpath, nl.cpath); err != nil {
		undo()
		return pathErr("link", oldname, err)
	}
	return nil
}

// located runs fn on the location of name, following symlinks when follow
// is set.
func (f *FS) located(op, name string, follow bool, fn func(l *entryLoc) error) error {
	if err := f.checkWrite(op, name); err != nil {
		return err
	}
	p := name
	if follow {
		var err error
		if p, err = f.follow(name); err != nil {
			return pathErr(op, name, err)
		}
	}
	return pathErr(op, name, f.retryNotDir(p, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		return fn(&l)
	}))
}

// Chmod changes the mode of the named object, following symlinks.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	return f.located("chmod", name, true, func(l *entryLoc) error {
		return f.store.Chmod(l.cpath, mode)
	})
}

// Chown changes the owner of the named object, following symlinks.
func (f *FS) Chown(name string, uid, gid int) error {
	return f.located("chown", name, true, func(l *entryLoc) error {
		return f.store.Lchown(l.cpath, uid, gid)
	})
}

// Lchown changes the owner of the named object without following a final
// symlink.
func (f *FS) Lchown(name string, uid, gid int) error {
	return f.located("lchown", name, false, func(l *entryLoc) error {
		return f.store.Lchown(l.cpath, uid, gid)
	})
}

// Chtimes changes the access and modification times, following symlinks.
// A zero time.Time leaves that time unchanged (os.Chtimes).
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	return f.located("chtimes", name, true, func(l *entryLoc) error {
		return f.store.Lchtimes(l.cpath, atime, mtime)
	})
}

// Lchtimes is Chtimes without following a final symlink.
func (f *FS) Lchtimes(name string, atime, mtime time.Time) error {
	return f.located("lchtimes", name, false, func(l *entryLoc) error {
		return f.store.Lchtimes(l.cpath, atime, mtime)
	})
}

// Truncate changes the size of the named file, following symlinks.
func (f *FS) Truncate(name string, size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: name, Err: syscall.EINVAL}
	}
	file, err := f.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return pathErr("truncate", name, unwrapPath(err))
	}
	err = file.Truncate(size)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mknod creates a FIFO, socket or device node (mknod(2); mode includes the
// file type bits S_IFIFO, S_IFSOCK, S_IFCHR or S_IFBLK).
func (f *FS) Mknod(name string, mode uint32, dev uint64) error {
	ms, ok := f.store.(store.Mknoder)
	if !ok {
		return &fs.PathError{Op: "mknod", Path: name, Err: errors.ErrUnsupported}
	}
	if err := f.checkWrite("mknod", name); err != nil {
		return err
	}
	return pathErr("mknod", name, f.retryNotDir(name, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		undo, err := f.createLongName(&l)
		if err != nil {
			return err
		}
		if err := ms.Mknod(l.cpath, mode, dev); err != nil {
			undo()
			return err
		}
		return nil
	}))
}

// Statfs reports the usage of the file system holding the vault.
func (f *FS) Statfs() (Statfs, error) {
	ss, ok := f.store.(store.Statfser)
	if !ok {
		return Statfs{}, &fs.PathError{Op: "statfs", Path: ".", Err: errors.ErrUnsupported}
	}
	st, err := ss.Statfs()
	if err != nil {
		return Statfs{}, pathErr("statfs", ".", err)
	}
	st.NameLen = names.MaxNameLen
	return st, nil
}
