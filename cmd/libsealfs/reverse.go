package main

// #include "sealfs.h"
import "C"

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/vault"
)

// reverseFS is the encrypted view of a plaintext tree (gocryptfs -reverse)
// as a vfs: everything that reads works, every change is EROFS.
type reverseFS struct {
	*reverse.FS
	root   *os.Root
	xattrs *dirstore.Store
}

func rofs(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: syscall.EROFS} }

func (r reverseFS) OpenFile(name string, flag int, _ fs.FileMode) (handle, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, rofs("open", name)
	}
	f, err := r.FS.Open(name)
	if err != nil {
		return nil, err
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
	}
	return roHandle{f, ra, name}, nil
}

// roHandle is a file of the view: reads, and EROFS for changes (the view's
// files, real and virtual, are not all of one type).
type roHandle struct {
	fs.File
	io.ReaderAt
	name string
}

func (h roHandle) WriteAt([]byte, int64) (int, error) { return 0, rofs("write", h.name) }
func (h roHandle) Write([]byte) (int, error)          { return 0, rofs("write", h.name) }
func (h roHandle) Truncate(int64) error               { return rofs("truncate", h.name) }
func (h roHandle) Sync() error                        { return nil }

func (r reverseFS) Readlink(name string) (string, error) { return r.FS.ReadLink(name) }

func (r reverseFS) Statfs() (sealfs.Statfs, error) {
	return sealfs.Statfs{}, &fs.PathError{Op: "statfs", Path: ".", Err: syscall.ENOTSUP}
}

func (r reverseFS) Close() error {
	if r.xattrs != nil {
		r.xattrs.Close()
	}
	return r.root.Close()
}

func (reverseFS) Mkdir(name string, _ fs.FileMode) error    { return rofs("mkdir", name) }
func (reverseFS) Rmdir(name string) error                   { return rofs("rmdir", name) }
func (reverseFS) Unlink(name string) error                  { return rofs("unlink", name) }
func (reverseFS) Rename(name, _ string) error               { return rofs("rename", name) }
func (reverseFS) Rename2(name, _ string, _ uint) error      { return rofs("rename", name) }
func (reverseFS) Symlink(_, name string) error              { return rofs("symlink", name) }
func (reverseFS) Link(name, _ string) error                 { return rofs("link", name) }
func (reverseFS) Chmod(name string, _ fs.FileMode) error    { return rofs("chmod", name) }
func (reverseFS) Chown(name string, _, _ int) error         { return rofs("chown", name) }
func (reverseFS) Chtimes(name string, _, _ time.Time) error { return rofs("chtimes", name) }
func (reverseFS) Truncate(name string, _ int64) error       { return rofs("truncate", name) }
func (reverseFS) Setxattr(name, _ string, _ []byte, _ int) error {
	return rofs("setxattr", name)
}
func (reverseFS) Removexattr(name, _ string) error { return rofs("removexattr", name) }

// sealfs_create_reverse writes the reverse config of a plaintext directory
// (AES-SIV, as gocryptfs -init -reverse): only scrypt_logn, creator and
// config_path of opts count.
//
//export sealfs_create_reverse
func sealfs_create_reverse(plainDir *C.sealfs_cchar, pw *C.char, pwLen C.size_t, opts *C.sealfs_ccreate_opts) C.int64_t {
	d, password, ok := dirAndPassword(plainDir, pw, pwLen)
	defer clear(password)
	if !ok {
		return eFault
	}
	vo := &vault.Options{Suite: content.AESSIV}
	var cp *C.sealfs_cchar
	if opts != nil {
		vo.ScryptLogN = int(opts.scrypt_logn)
		vo.Creator, _ = cstr(opts.creator)
		cp = opts.config_path
	}
	path := configFile(d, cp, vault.ReverseFile)
	if _, err := os.Lstat(path); err == nil {
		return -C.int64_t(syscall.EEXIST)
	}
	key, err := vault.GenerateKey()
	if err != nil {
		return code(err)
	}
	defer key.Destroy()
	cfg, err := vault.New(key, password, vo)
	if err != nil {
		return code(err)
	}
	return code(cfg.WriteFile(path))
}

// sealfs_open_reverse opens the encrypted view of plainDir, read-only.
//
//export sealfs_open_reverse
func sealfs_open_reverse(plainDir *C.sealfs_cchar, pw *C.char, pwLen C.size_t, configPath *C.sealfs_cchar) C.int64_t {
	d, password, ok := dirAndPassword(plainDir, pw, pwLen)
	defer clear(password)
	if !ok {
		return eFault
	}
	path := configFile(d, configPath, vault.ReverseFile)
	cfg, key, errc := loadUnlock(path, password)
	if errc != 0 {
		return errc
	}
	defer key.Destroy()
	root, err := os.OpenRoot(d)
	if err != nil {
		return code(err)
	}
	opts := &reverse.Options{}
	if p, _ := cstr(configPath); p != "" {
		opts.ConfigName = "-"
	}
	xs, err := dirstore.New(d, nil)
	if err == nil {
		if src, ok := store.Store(xs).(reverse.XattrSource); ok {
			opts.Xattrs = src
		}
	}
	v, err := reverse.New(root.FS(), cfg, key, opts)
	if err != nil {
		root.Close()
		if xs != nil {
			xs.Close()
		}
		if errors.Is(err, reverse.ErrNotSIV) {
			return errConfig
		}
		return code(err)
	}
	return C.int64_t(volumes.add(reverseFS{FS: v, root: root, xattrs: xs}))
}
