package main

// #include <fcntl.h>
// #include <stdlib.h>
// #include <string.h>
// #include "sealfs.h"
import "C"

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/vault"
)

// The sealfs_* calls: the library in plain C types (sealfs.h documents
// them). Errors are negative: -errno or a SEALFS_E* code.

const (
	errPassword = -10001
	errCorrupt  = -10002
	errConfig   = -10003
)

// code turns an error into the negative number C sees.
func code(err error) C.int64_t {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, vault.ErrWrongPassword):
		return errPassword
	case errors.Is(err, sealfs.ErrCorrupt):
		return errCorrupt
	case errors.Is(err, vault.ErrInvalidConfig):
		return errConfig
	case errors.As(err, &errno) && errno != 0:
		return -C.int64_t(errno)
	case errors.Is(err, fs.ErrNotExist):
		return -C.int64_t(syscall.ENOENT)
	case errors.Is(err, fs.ErrExist):
		return -C.int64_t(syscall.EEXIST)
	case errors.Is(err, fs.ErrPermission):
		return -C.int64_t(syscall.EACCES)
	case errors.Is(err, fs.ErrInvalid):
		return -C.int64_t(syscall.EINVAL)
	case errors.Is(err, fs.ErrClosed):
		return -C.int64_t(syscall.EBADF)
	}
	return -C.int64_t(syscall.EIO)
}

const (
	eBadf  = -C.int64_t(syscall.EBADF)
	eFault = -C.int64_t(syscall.EFAULT)
	eRange = -C.int64_t(syscall.ERANGE)
	eInval = -C.int64_t(syscall.EINVAL)
)

// messages are sealfs_strerror's strings, made once per code and kept.
var messages = struct {
	sync.Mutex
	m map[C.int64_t]*C.char
}{m: map[C.int64_t]*C.char{}}

//export sealfs_strerror
func sealfs_strerror(err C.int64_t) *C.sealfs_cchar {
	messages.Lock()
	defer messages.Unlock()
	if s, ok := messages.m[err]; ok {
		return (*C.sealfs_cchar)(unsafe.Pointer(s))
	}
	var msg string
	switch {
	case err == 0:
		msg = "success"
	case err == errPassword:
		msg = "wrong password or master key"
	case err == errCorrupt:
		msg = "ciphertext failed authentication (tampered or damaged data)"
	case err == errConfig:
		msg = "the config file is invalid"
	case err < 0 && err > -4096:
		msg = syscall.Errno(-err).Error()
	default:
		msg = "unknown error"
	}
	s := C.CString(msg)
	messages.m[err] = s
	return (*C.sealfs_cchar)(unsafe.Pointer(s))
}

// cstr is a C string argument as a Go string; ok is false for NULL.
func cstr(p *C.sealfs_cchar) (string, bool) {
	if p == nil {
		return "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(p))), true
}

// password copies a password argument and wipes the caller's bytes.
func password(p *C.char, n C.size_t) []byte {
	if p == nil {
		return nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
	pw := append([]byte(nil), b...)
	clear(b)
	return pw
}

// dirAndPassword takes a directory and a password argument: the password
// is copied and the caller's bytes wiped even when ok is false (a NULL
// pointer).
func dirAndPassword(dir *C.sealfs_cchar, pw *C.char, n C.size_t) (string, []byte, bool) {
	password := password(pw, n)
	d, ok := cstr(dir)
	return d, password, ok && pw != nil
}

//export sealfs_create
func sealfs_create(dir *C.sealfs_cchar, pw *C.char, pwLen C.size_t, opts *C.sealfs_ccreate_opts) C.int64_t {
	d, password, ok := dirAndPassword(dir, pw, pwLen)
	defer clear(password)
	if !ok {
		return eFault
	}
	co := &sealfs.CreateOptions{}
	if opts != nil {
		switch opts.cipher {
		case C.SEALFS_AES_GCM:
			co.Suite = content.AESGCM
		case C.SEALFS_AES_SIV:
			co.Suite = content.AESSIV
		case C.SEALFS_XCHACHA:
			co.Suite = content.XChaCha20Poly1305
		default:
			return eInval
		}
		co.PlaintextNames = opts.plaintext_names != 0
		co.DeterministicNames = opts.deterministic_names != 0
		co.LongNameMax = int(opts.longnamemax)
		co.ScryptLogN = int(opts.scrypt_logn)
		co.Creator, _ = cstr(opts.creator)
		co.ConfigPath, _ = cstr(opts.config_path)
	}
	v, err := sealfs.Create(d, password, co)
	if err != nil {
		return code(err)
	}
	return C.int64_t(volumes.add(vaultFS{v}))
}

//export sealfs_open
func sealfs_open(dir *C.sealfs_cchar, pw *C.char, pwLen C.size_t, configPath *C.sealfs_cchar, flags C.int) C.int64_t {
	d, password, ok := dirAndPassword(dir, pw, pwLen)
	defer clear(password)
	if !ok {
		return eFault
	}
	opts := openOptions(configPath, flags)
	v, err := sealfs.Open(d, password, opts)
	if err != nil {
		return code(err)
	}
	return C.int64_t(volumes.add(vaultFS{v}))
}

func openOptions(configPath *C.sealfs_cchar, flags C.int) *sealfs.Options {
	cp, _ := cstr(configPath)
	return &sealfs.Options{ConfigPath: cp, ReadOnly: flags&C.SEALFS_RDONLY != 0}
}

//export sealfs_open_masterkey
func sealfs_open_masterkey(dir, hexKey, configPath *C.sealfs_cchar, flags C.int) C.int64_t {
	d, ok := cstr(dir)
	h, ok2 := cstr(hexKey)
	if !ok || !ok2 {
		return eFault
	}
	key, err := vault.ParseKey(h)
	if err != nil {
		return errPassword
	}
	defer key.Destroy()
	opts := openOptions(configPath, flags)
	opts.MasterKey = key
	v, err := sealfs.Open(d, nil, opts)
	if err != nil {
		return code(err)
	}
	return C.int64_t(volumes.add(vaultFS{v}))
}

//export sealfs_close
func sealfs_close(vol C.int64_t) C.int64_t {
	if volumes.get(int(vol)) == nil {
		return eBadf
	}
	volumes.close(int(vol))
	return 0
}

//export sealfs_change_password
func sealfs_change_password(dir, configPath *C.sealfs_cchar, oldPw *C.char, oldLen C.size_t, newPw *C.char, newLen C.size_t) C.int64_t {
	old, nw := password(oldPw, oldLen), password(newPw, newLen)
	defer clear(old)
	defer clear(nw)
	d, ok := cstr(dir)
	if !ok || oldPw == nil || newPw == nil {
		return eFault
	}
	path := configFile(d, configPath, vault.DefaultFile)
	cfg, key, errc := loadUnlock(path, old)
	if errc != 0 {
		return errc
	}
	defer key.Destroy()
	if err := cfg.SetPassword(key, nw, 0); err != nil {
		return code(err)
	}
	return code(cfg.WriteFile(path)) // atomic, 0400
}

// configFile is the config file of the vault (or plaintext tree) in dir:
// configPath if given, else dir/name.
func configFile(dir string, configPath *C.sealfs_cchar, name string) string {
	if p, _ := cstr(configPath); p != "" {
		return p
	}
	return filepath.Join(dir, name)
}

// loadUnlock loads the config at path and unlocks it with password; on
// failure the code is negative (a missing file -ENOENT, an invalid one
// SEALFS_ECONFIG, a wrong password SEALFS_EPASSWORD).
func loadUnlock(path string, password []byte) (*vault.Config, *vault.Key, C.int64_t) {
	cfg, err := vault.Load(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, code(err)
		}
		return nil, nil, errConfig
	}
	key, err := cfg.Unlock(password)
	if err != nil {
		return nil, nil, code(err)
	}
	return cfg, key, 0
}

// withVol runs fn on an open volume.
func withVol(vol C.int64_t, fn func(v *volume) C.int64_t) C.int64_t {
	v := volumes.get(int(vol))
	if v == nil {
		return eBadf
	}
	return fn(v)
}

// withPath runs fn on an open volume and a path argument.
func withPath(vol C.int64_t, path *C.sealfs_cchar, fn func(v *volume, p string) error) C.int64_t {
	p, ok := cstr(path)
	if !ok {
		return eFault
	}
	return withVol(vol, func(v *volume) C.int64_t { return code(fn(v, vaultPath(p))) })
}

//export sealfs_file_open
func sealfs_file_open(vol C.int64_t, path *C.sealfs_cchar, flags C.int, mode C.uint32_t) C.int64_t {
	p, ok := cstr(path)
	if !ok {
		return eFault
	}
	return withVol(vol, func(v *volume) C.int64_t {
		f, err := v.fs.OpenFile(vaultPath(p), int(flags), store.ModeFromUnix(uint32(mode)&0o7777))
		if err != nil {
			return code(err)
		}
		if flags&C.O_APPEND != 0 {
			return C.int64_t(v.addHandle(appending{f}))
		}
		return C.int64_t(v.addHandle(f))
	})
}

// appending is a file opened with O_APPEND: its writes go to the end,
// whatever the offset (as pwrite(2) on such a file on Linux).
type appending struct{ handle }

func (a appending) WriteAt(b []byte, _ int64) (int, error) { return a.handle.Write(b) }

// withFile runs fn on an open file.
func withFile(vol, file C.int64_t, fn func(f handle) C.int64_t) C.int64_t {
	f := volumes.handle(int(vol), int(file))
	if f == nil {
		return eBadf
	}
	return fn(f)
}

//export sealfs_pread
func sealfs_pread(vol, file C.int64_t, buf unsafe.Pointer, n C.size_t, off C.int64_t) C.int64_t {
	if buf == nil && n > 0 {
		return eFault
	}
	return withFile(vol, file, func(f handle) C.int64_t {
		b := unsafe.Slice((*byte)(buf), int(n))
		got, err := readSplit(f, b, int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			return code(err)
		}
		return C.int64_t(got)
	})
}

//export sealfs_pwrite
func sealfs_pwrite(vol, file C.int64_t, buf *C.sealfs_cvoid, n C.size_t, off C.int64_t) C.int64_t {
	if buf == nil && n > 0 {
		return eFault
	}
	return withFile(vol, file, func(f handle) C.int64_t {
		b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
		got, err := f.WriteAt(b, int64(off))
		if err != nil && got == 0 {
			return code(err)
		}
		return C.int64_t(got)
	})
}

//export sealfs_ftruncate
func sealfs_ftruncate(vol, file, size C.int64_t) C.int64_t {
	return withFile(vol, file, func(f handle) C.int64_t { return code(f.Truncate(int64(size))) })
}

//export sealfs_fsync
func sealfs_fsync(vol, file C.int64_t) C.int64_t {
	return withFile(vol, file, func(f handle) C.int64_t { return code(f.Sync()) })
}

//export sealfs_fstat
func sealfs_fstat(vol, file C.int64_t, st *C.struct_sealfs_stat) C.int64_t {
	if st == nil {
		return eFault
	}
	return withFile(vol, file, func(f handle) C.int64_t {
		fi, err := f.Stat()
		if err != nil {
			return code(err)
		}
		fillStat(st, fi)
		return 0
	})
}

//export sealfs_file_close
func sealfs_file_close(vol, file C.int64_t) C.int64_t {
	return closeID(vol, file, (*volume).closeHandle)
}

// closeID closes the file or listing id of a volume with closer.
func closeID(vol, id C.int64_t, closer func(*volume, int) bool) C.int64_t {
	return withVol(vol, func(v *volume) C.int64_t {
		if !closer(v, int(id)) {
			return eBadf
		}
		return 0
	})
}

// fillStat writes fi into a C stat struct.
func fillStat(st *C.struct_sealfs_stat, fi fs.FileInfo) {
	C.memset(unsafe.Pointer(st), 0, C.sizeof_struct_sealfs_stat)
	s, ok := store.SysStat(fi)
	if !ok {
		s = store.Stat{Mode: store.ModeToUnix(fi.Mode()), Size: fi.Size(), Mtime: fi.ModTime(), Atime: fi.ModTime(), Ctime: fi.ModTime()}
	}
	st.dev, st.ino, st.nlink, st.rdev = C.uint64_t(s.Dev), C.uint64_t(s.Ino), C.uint64_t(s.Nlink), C.uint64_t(s.Rdev)
	st.mode, st.uid, st.gid = C.uint32_t(s.Mode), C.uint32_t(s.Uid), C.uint32_t(s.Gid)
	st.size, st.blocks = C.int64_t(fi.Size()), C.int64_t(s.Blocks)
	st.atime_sec, st.atime_nsec = C.int64_t(s.Atime.Unix()), C.int64_t(s.Atime.Nanosecond())
	st.mtime_sec, st.mtime_nsec = C.int64_t(s.Mtime.Unix()), C.int64_t(s.Mtime.Nanosecond())
	st.ctime_sec, st.ctime_nsec = C.int64_t(s.Ctime.Unix()), C.int64_t(s.Ctime.Nanosecond())
}

func statCall(vol C.int64_t, path *C.sealfs_cchar, st *C.struct_sealfs_stat, stat func(vfs, string) (fs.FileInfo, error)) C.int64_t {
	if st == nil {
		return eFault
	}
	return withPath(vol, path, func(v *volume, p string) error {
		fi, err := stat(v.fs, p)
		if err == nil {
			fillStat(st, fi)
		}
		return err
	})
}

//export sealfs_stat
func sealfs_stat(vol C.int64_t, path *C.sealfs_cchar, st *C.struct_sealfs_stat) C.int64_t {
	return statCall(vol, path, st, vfs.Stat)
}

//export sealfs_lstat
func sealfs_lstat(vol C.int64_t, path *C.sealfs_cchar, st *C.struct_sealfs_stat) C.int64_t {
	return statCall(vol, path, st, vfs.Lstat)
}

//export sealfs_opendir
func sealfs_opendir(vol C.int64_t, path *C.sealfs_cchar) C.int64_t {
	p, ok := cstr(path)
	if !ok {
		return eFault
	}
	return withVol(vol, func(v *volume) C.int64_t {
		des, err := v.fs.ReadDir(vaultPath(p))
		if err != nil {
			return code(err)
		}
		return C.int64_t(v.addDir(des))
	})
}

//export sealfs_readdir
func sealfs_readdir(vol, dir C.int64_t, name *C.char, capacity C.size_t, typ *C.uint32_t) C.int64_t {
	if name == nil {
		return eFault
	}
	return withVol(vol, func(v *volume) C.int64_t {
		de, found, err := v.nextDirEntry(int(dir), int(capacity))
		switch {
		case errors.Is(err, syscall.ERANGE):
			return eRange
		case err != nil:
			return eBadf
		case !found:
			return 0
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(name)), int(capacity))
		b[copy(b, de.Name())] = 0
		if typ != nil {
			*typ = C.uint32_t(store.ModeToUnix(de.Type()))
		}
		return 1
	})
}

//export sealfs_closedir
func sealfs_closedir(vol, dir C.int64_t) C.int64_t {
	return closeID(vol, dir, (*volume).closeDir)
}

//export sealfs_mkdir
func sealfs_mkdir(vol C.int64_t, path *C.sealfs_cchar, mode C.uint32_t) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error {
		return v.fs.Mkdir(p, store.ModeFromUnix(uint32(mode)&0o7777))
	})
}

//export sealfs_rmdir
func sealfs_rmdir(vol C.int64_t, path *C.sealfs_cchar) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Rmdir(p) })
}

//export sealfs_unlink
func sealfs_unlink(vol C.int64_t, path *C.sealfs_cchar) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Unlink(p) })
}

// twoPaths runs fn on an open volume and two path arguments.
func twoPaths(vol C.int64_t, a, b *C.sealfs_cchar, fn func(v *volume, a, b string) error) C.int64_t {
	pb, ok := cstr(b)
	if !ok {
		return eFault
	}
	return withPath(vol, a, func(v *volume, pa string) error { return fn(v, pa, vaultPath(pb)) })
}

//export sealfs_rename
func sealfs_rename(vol C.int64_t, from, to *C.sealfs_cchar, flags C.uint) C.int64_t {
	return twoPaths(vol, from, to, func(v *volume, a, b string) error { return v.fs.Rename2(a, b, uint(flags)) })
}

//export sealfs_link
func sealfs_link(vol C.int64_t, from, to *C.sealfs_cchar) C.int64_t {
	return twoPaths(vol, from, to, func(v *volume, a, b string) error { return v.fs.Link(a, b) })
}

//export sealfs_symlink
func sealfs_symlink(vol C.int64_t, target, path *C.sealfs_cchar) C.int64_t {
	t, ok := cstr(target)
	if !ok {
		return eFault
	}
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Symlink(t, p) })
}

//export sealfs_readlink
func sealfs_readlink(vol C.int64_t, path *C.sealfs_cchar, buf *C.char, capacity C.size_t) C.int64_t {
	if buf == nil {
		return eFault
	}
	var n C.int64_t
	r := withPath(vol, path, func(v *volume, p string) error {
		t, err := v.fs.Readlink(p)
		if err != nil {
			return err
		}
		if len(t)+1 > int(capacity) {
			return syscall.ERANGE
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
		b[copy(b, t)] = 0
		n = C.int64_t(len(t))
		return nil
	})
	if r < 0 {
		return r
	}
	return n
}

//export sealfs_chmod
func sealfs_chmod(vol C.int64_t, path *C.sealfs_cchar, mode C.uint32_t) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error {
		return v.fs.Chmod(p, store.ModeFromUnix(uint32(mode)&0o7777))
	})
}

//export sealfs_chown
func sealfs_chown(vol C.int64_t, path *C.sealfs_cchar, uid, gid C.int64_t) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Chown(p, int(uid), int(gid)) })
}

//export sealfs_utimens
func sealfs_utimens(vol C.int64_t, path *C.sealfs_cchar, atimeNs, mtimeNs C.int64_t) C.int64_t {
	t := func(ns C.int64_t) time.Time {
		if ns < 0 {
			return time.Time{}
		}
		return time.Unix(0, int64(ns))
	}
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Chtimes(p, t(atimeNs), t(mtimeNs)) })
}

//export sealfs_truncate
func sealfs_truncate(vol C.int64_t, path *C.sealfs_cchar, size C.int64_t) C.int64_t {
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Truncate(p, int64(size)) })
}

//export sealfs_statfs
func sealfs_statfs(vol C.int64_t, st *C.struct_sealfs_statfs) C.int64_t {
	if st == nil {
		return eFault
	}
	return withVol(vol, func(v *volume) C.int64_t {
		s, err := v.fs.Statfs()
		if err != nil {
			return code(err)
		}
		st.bsize, st.blocks, st.bfree, st.bavail = C.uint64_t(s.BlockSize), C.uint64_t(s.Blocks), C.uint64_t(s.BlocksFree), C.uint64_t(s.BlocksAvail)
		st.files, st.ffree, st.namelen = C.uint64_t(s.Files), C.uint64_t(s.FilesFree), C.uint64_t(s.NameLen)
		return 0
	})
}

// copyOut copies data into a caller's buffer as getxattr(2) does: the size
// alone when capacity is 0, ERANGE when it is too small.
func copyOut(data []byte, buf unsafe.Pointer, capacity C.size_t) C.int64_t {
	if capacity == 0 {
		return C.int64_t(len(data))
	}
	if buf == nil {
		return eFault
	}
	if len(data) > int(capacity) {
		return eRange
	}
	copy(unsafe.Slice((*byte)(buf), int(capacity)), data)
	return C.int64_t(len(data))
}

//export sealfs_getxattr
func sealfs_getxattr(vol C.int64_t, path, name *C.sealfs_cchar, buf unsafe.Pointer, capacity C.size_t) C.int64_t {
	attr, ok := cstr(name)
	if !ok {
		return eFault
	}
	var r C.int64_t
	e := withPath(vol, path, func(v *volume, p string) error {
		val, err := v.fs.Getxattr(p, attr)
		if err == nil {
			r = copyOut(val, buf, capacity)
		}
		return err
	})
	if e < 0 {
		return e
	}
	return r
}

//export sealfs_setxattr
func sealfs_setxattr(vol C.int64_t, path, name *C.sealfs_cchar, value *C.sealfs_cvoid, size C.size_t, flags C.int) C.int64_t {
	attr, ok := cstr(name)
	if !ok || value == nil && size > 0 {
		return eFault
	}
	val := C.GoBytes(unsafe.Pointer(value), C.int(size))
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Setxattr(p, attr, val, int(flags)) })
}

//export sealfs_listxattr
func sealfs_listxattr(vol C.int64_t, path *C.sealfs_cchar, buf *C.char, capacity C.size_t) C.int64_t {
	var r C.int64_t
	e := withPath(vol, path, func(v *volume, p string) error {
		names, err := v.fs.Listxattr(p)
		if err == nil {
			var b []byte
			for _, n := range names {
				b = append(append(b, n...), 0)
			}
			r = copyOut(b, unsafe.Pointer(buf), capacity)
		}
		return err
	})
	if e < 0 {
		return e
	}
	return r
}

//export sealfs_removexattr
func sealfs_removexattr(vol C.int64_t, path, name *C.sealfs_cchar) C.int64_t {
	attr, ok := cstr(name)
	if !ok {
		return eFault
	}
	return withPath(vol, path, func(v *volume, p string) error { return v.fs.Removexattr(p, attr) })
}

// readPiece is small enough that the content layer decrypts it on the
// calling goroutine (fewer than its 32 blocks to go parallel, at any
// offset).
const readPiece = 28 << 12

// readSplit is f.ReadAt for a C caller. The content layer decrypts a large
// read on goroutines of its own while the caller waits; the waiting
// goroutine of a C thread is locked to it, and each wait costs the
// runtime thread hand-overs (2.6 context switches more per 1 MiB read
// than from Go, 20% of the throughput on a 2-core VM). Here the C thread
// decrypts half the pieces itself, one goroutine the other half.
func readSplit(f handle, b []byte, off int64) (int, error) {
	if len(b) < 4*readPiece {
		return f.ReadAt(b, off)
	}
	half := len(b) / 2 / readPiece * readPiece
	readRange := func(lo, hi int) (int, error) {
		done := lo
		for done < hi {
			end := min(done+readPiece, hi)
			n, err := f.ReadAt(b[done:end], off+int64(done))
			done += n
			if err != nil {
				return done - lo, err
			}
			if n < end-(done-n) {
				break
			}
		}
		return done - lo, nil
	}
	type result struct {
		n   int
		err error
	}
	first := make(chan result, 1)
	go func() {
		n, err := readRange(0, half)
		first <- result{n, err}
	}()
	n2, err2 := readRange(half, len(b))
	r1 := <-first
	if r1.err != nil || r1.n < half {
		return r1.n, r1.err
	}
	return half + n2, err2
}
