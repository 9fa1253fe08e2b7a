package main

// #include <stdlib.h>
import "C"

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/vault"
)

// The calls of libgocryptfs (DroidFS' library), with its names, Go
// signatures (so that cgo writes the same C prototypes, GoString and
// GoSlice arguments, and the same gcf_get_attrs_return and gcf_list_dir_return
// structs) and meanings: volumes and handles are small integers, failures are
// -1, 0 or false. Passwords and scrypt hashes given in are wiped.

// gcf_init unlocks the vault in rootCipherDir with password, or with
// givenScryptHash when that is not empty (the hash an earlier call wrote to
// returnedScryptHashBuff, for fingerprint unlock). It returns the volume
// ID, -1 if the config cannot be loaded and -2 for a wrong password or hash.
//
//export gcf_init
func gcf_init(rootCipherDir string, password, givenScryptHash, returnedScryptHashBuff []byte) int {
	defer clear(password)
	dir := goString(rootCipherDir)
	cfg, err := vault.Load(filepath.Join(dir, vault.DefaultFile))
	if err != nil {
		return -1
	}
	key, err := unlock(cfg, password, givenScryptHash, returnedScryptHashBuff)
	if err != nil {
		return -2
	}
	defer key.Destroy()
	v, err := sealfs.Open(dir, nil, &sealfs.Options{MasterKey: key, Config: cfg})
	if err != nil {
		return -1
	}
	return volumes.add(vaultFS{v})
}

// unlock unwraps the master key with a given hash, or with the password
// (copying its hash into hashOut when that has room).
func unlock(cfg *vault.Config, password, givenHash, hashOut []byte) (*vault.Key, error) {
	if len(givenHash) > 0 {
		return cfg.UnlockHash(givenHash)
	}
	h, err := cfg.PasswordHash(password)
	if err != nil {
		return nil, err
	}
	defer clear(h)
	key, err := cfg.UnlockHash(h)
	if err == nil {
		copy(hashOut, h)
	}
	return key, err
}

//export gcf_close
func gcf_close(volumeID int) {
	volumes.close(volumeID)
}

//export gcf_is_closed
func gcf_is_closed(volumeID int) bool {
	return volumes.get(volumeID) == nil
}

// gcf_change_password re-wraps the master key with newPassword (the vault
// is unlocked with oldPassword or givenScryptHash); the new scrypt hash
// goes to returnedScryptHashBuff when it is not empty. The config is
// replaced atomically.
//
//export gcf_change_password
func gcf_change_password(rootCipherDir string, oldPassword, givenScryptHash, newPassword, returnedScryptHashBuff []byte) bool {
	defer clear(oldPassword)
	defer clear(givenScryptHash)
	defer clear(newPassword)
	path := filepath.Join(goString(rootCipherDir), vault.DefaultFile)
	cfg, err := vault.Load(path)
	if err != nil {
		return false
	}
	key, err := unlock(cfg, oldPassword, givenScryptHash, nil)
	if err != nil {
		return false
	}
	defer key.Destroy()
	h, err := cfg.SetPasswordHash(key, newPassword, 0)
	if err != nil {
		return false
	}
	defer clear(h)
	if err := cfg.WriteFile(path); err != nil { // atomic, 0400
		return false
	}
	copy(returnedScryptHashBuff, h)
	return true
}

// gcf_create_volume makes a new vault (AES-GCM, or XChaCha20-Poly1305 when
// xchacha is 1, or when it is negative and the CPU has no AES
// instructions) in the empty directory rootCipherDir.
//
//export gcf_create_volume
func gcf_create_volume(rootCipherDir string, password []byte, plaintextNames bool, xchacha int8, logN int, creator string, returnedScryptHashBuff []byte) bool {
	defer clear(password)
	suite := content.AESGCM
	if xchacha > 0 || xchacha < 0 && !cpu.X86.HasAES && !cpu.ARM64.HasAES {
		suite = content.XChaCha20Poly1305
	}
	v, err := sealfs.Create(goString(rootCipherDir), password, &sealfs.CreateOptions{Options: vault.Options{
		Suite: suite, PlaintextNames: plaintextNames, ScryptLogN: logN, Creator: goString(creator),
	}})
	if err != nil {
		return false
	}
	defer v.Close()
	if len(returnedScryptHashBuff) > 0 {
		h, err := v.Config().PasswordHash(password)
		if err != nil {
			return false
		}
		copy(returnedScryptHashBuff, h)
		clear(h)
	}
	return true
}

//export gcf_open_read_mode
func gcf_open_read_mode(sessionID int, path string) int {
	return openHandle(sessionID, path, os.O_RDONLY, 0)
}

// gcf_open_write_mode opens a file for reading and writing, creating it
// with mode if it does not exist.
//
//export gcf_open_write_mode
func gcf_open_write_mode(sessionID int, path string, mode uint32) int {
	return openHandle(sessionID, path, os.O_RDWR|os.O_CREATE, mode)
}

func openHandle(sessionID int, path string, flag int, mode uint32) int {
	vol := volumes.get(sessionID)
	if vol == nil {
		return -1
	}
	f, err := vol.fs.OpenFile(vaultPath(path), flag, store.ModeFromUnix(mode&0o7777))
	if err != nil {
		return -1
	}
	return vol.addHandle(f)
}

// gcf_truncate sets the size of the file at path (libgocryptfs only
// truncates a file it has open; this truncates any).
//
//export gcf_truncate
func gcf_truncate(sessionID int, path string, offset uint64) bool {
	vol := volumes.get(sessionID)
	return vol != nil && offset <= maxOff && vol.fs.Truncate(vaultPath(path), int64(offset)) == nil
}

// maxOff is the largest offset a vault file can have.
const maxOff = 1<<63 - 1

// gcf_read_file reads into dst_buff at offset and returns the number of
// bytes read: 0 at the end of the file and on errors.
//
//export gcf_read_file
func gcf_read_file(sessionID, handleID int, offset uint64, dst_buff []byte) uint32 {
	f := volumes.handle(sessionID, handleID)
	if f == nil || offset > maxOff {
		return 0
	}
	n, err := readSplit(f, dst_buff, int64(offset))
	if err != nil && !errors.Is(err, io.EOF) {
		return 0
	}
	return uint32(n)
}

// gcf_write_file writes data at offset and returns the number of bytes
// written (0 on errors).
//
//export gcf_write_file
func gcf_write_file(sessionID, handleID int, offset uint64, data []byte) uint32 {
	f := volumes.handle(sessionID, handleID)
	if f == nil || offset > maxOff {
		return 0
	}
	n, _ := f.WriteAt(data, int64(offset))
	return uint32(n)
}

//export gcf_close_file
func gcf_close_file(sessionID, handleID int) {
	if vol := volumes.get(sessionID); vol != nil {
		vol.closeHandle(handleID)
	}
}

//export gcf_remove_file
func gcf_remove_file(sessionID int, path string) bool {
	vol := volumes.get(sessionID)
	return vol != nil && vol.fs.Unlink(vaultPath(path)) == nil
}

// gcf_list_dir lists a directory: its names, each followed by a NUL byte,
// in one malloc'ed string, a malloc'ed array of their types (S_IFDIR,
// S_IFREG, S_IFLNK, ...: the file type bits of st_mode) and their count.
// The caller frees both. On errors: NULL, NULL, 0.
//
//export gcf_list_dir
func gcf_list_dir(sessionID int, dirName string) (*C.char, *C.int, C.int) {
	vol := volumes.get(sessionID)
	if vol == nil {
		return nil, nil, 0
	}
	des, err := vol.fs.ReadDir(vaultPath(dirName))
	if err != nil {
		return nil, nil, 0
	}
	var names strings.Builder
	modes := (*C.int)(C.malloc(C.size_t(max(len(des), 1)) * C.sizeof_int))
	ms := unsafe.Slice(modes, max(len(des), 1))
	for i, de := range des {
		names.WriteString(de.Name())
		names.WriteByte(0)
		ms[i] = C.int(store.ModeToUnix(de.Type()))
	}
	return C.CString(names.String()), modes, C.int(len(des))
}

// gcf_mkdir makes a directory with mode (its gocryptfs.diriv included).
//
//export gcf_mkdir
func gcf_mkdir(sessionID int, path string, mode uint32) bool {
	vol := volumes.get(sessionID)
	return vol != nil && vol.fs.Mkdir(vaultPath(path), store.ModeFromUnix(mode&0o7777)) == nil
}

//export gcf_rmdir
func gcf_rmdir(sessionID int, relPath string) bool {
	vol := volumes.get(sessionID)
	return vol != nil && vol.fs.Rmdir(vaultPath(relPath)) == nil
}

// gcf_get_attrs describes relPath without following a symlink: st_mode,
// the plaintext size, the mtime in seconds, and whether it worked.
//
//export gcf_get_attrs
func gcf_get_attrs(sessionID int, relPath string) (uint32, uint64, uint64, bool) {
	vol := volumes.get(sessionID)
	if vol == nil {
		return 0, 0, 0, false
	}
	fi, err := vol.fs.Lstat(vaultPath(relPath))
	if err != nil {
		return 0, 0, 0, false
	}
	return store.ModeToUnix(fi.Mode()), uint64(fi.Size()), uint64(max(fi.ModTime().Unix(), 0)), true
}

// gcf_rename renames oldPath to newPath, replacing a file or an empty
// directory there.
//
//export gcf_rename
func gcf_rename(sessionID int, oldPath string, newPath string) bool {
	vol := volumes.get(sessionID)
	return vol != nil && vol.fs.Rename(vaultPath(oldPath), vaultPath(newPath)) == nil
}

// goString copies a string C passed in (its bytes are the caller's and may
// change after the call), up to a NUL byte if the length counted one.
func goString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return strings.Clone(s)
}

// vaultPath turns libgocryptfs' paths ("/", "/a/b", "a/b", "") into vault
// paths.
func vaultPath(p string) string {
	p = strings.Trim(filepath.ToSlash(goString(p)), "/")
	if p == "" {
		return "."
	}
	return p
}
