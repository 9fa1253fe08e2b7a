// Package layout holds the rules of a gocryptfs ciphertext directory in
// one place (FORMAT.md §6-§8): which entries are internal, the directory
// IV files, the long-name .name files, symlink targets and xattr values.
// The FS (package sealfs), fsck and the tools use these functions over a
// store.Store, so that every reader and writer of a vault agrees on them.
//
// Errors about damaged ciphertext wrap content.ErrCorrupt (which sealfs
// and fsck export as their ErrCorrupt).
package layout

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

const (
	// ConfigFile is the config's name in the root.
	ConfigFile = names.ConfigFile
	// DirIVFile is a directory's IV file.
	DirIVFile = names.DirIVFile
	// LongNameSuffix ends the name of a long-name file.
	LongNameSuffix = names.LongNameSuffix
	// MaxLongNameFile is the largest content of a .name file: the
	// padded base64 of a 256-byte EME block, the encryption of a
	// 255-byte name (§6.4).
	MaxLongNameFile = 344
	// FileMode is the mode of directory IV and long-name files.
	FileMode fs.FileMode = 0o444
	// RmdirPrefix starts the name rmdir moves a directory IV to before it
	// removes it (an interrupted rmdir leaves it behind).
	RmdirPrefix = DirIVFile + ".rmdir."
)

// Kind is what a stored directory entry is to the vault.
type Kind int

const (
	// Entry is a vault object: its name is (or should be) an encrypted
	// plaintext name, or the plaintext name with plaintext names.
	Entry Kind = iota
	// Config is gocryptfs.conf in the root.
	Config
	// DirIV is the directory's IV file.
	DirIV
	// LongNameFile is the .name file of a hashed long name.
	LongNameFile
	// RmdirLeftover is what an interrupted rmdir leaves
	// (gocryptfs.diriv.rmdir.*).
	RmdirLeftover
)

// Format is what the rules depend on.
type Format struct {
	PlainNames bool // plaintext names: only the config is internal
	DirIV      bool // directories have IV files
}

// Classify says what the entry stored in ciphertext directory cdir ("."
// is the root) is.
func (f Format) Classify(cdir, stored string) Kind {
	switch {
	case cdir == "." && stored == ConfigFile:
		return Config
	case f.PlainNames:
		return Entry
	case stored == DirIVFile && f.DirIV:
		return DirIV
	case names.IsLongNameFile(stored):
		return LongNameFile
	case strings.HasPrefix(stored, RmdirPrefix):
		return RmdirLeftover
	}
	return Entry
}

// Hidden reports whether the entry is internal, not shown in plaintext
// listings.
func (f Format) Hidden(cdir, stored string) bool { return f.Classify(cdir, stored) != Entry }

// Join joins a ciphertext directory and a name.
func Join(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// corruptError is damaged ciphertext in the vault's structure.
type corruptError struct {
	msg string
	err error
}

func (e *corruptError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}
func (e *corruptError) Is(target error) bool { return target == content.ErrCorrupt }
func (e *corruptError) Unwrap() error        { return e.err }

// Corrupt returns an error that is errors.Is(err, content.ErrCorrupt).
func Corrupt(msg string, err error) error { return &corruptError{msg: msg, err: err} }

// Corruptf is Corrupt with a format.
func Corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}

// ReadSmall reads the regular file at p, of at most max bytes: it reads
// one more to tell a longer file. It never blocks on a FIFO planted in
// the vault (O_NONBLOCK); anything but a regular file is corrupt.
func ReadSmall(s store.Store, p string, max int) ([]byte, error) {
	f, err := s.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, Corruptf("%s is not a regular file", p)
	}
	b := make([]byte, max+1)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// ReadDirIV reads and checks the IV of ciphertext directory cdir. A
// missing IV file is corrupt if the directory exists (else the error is
// the directory's fs.ErrNotExist).
func ReadDirIV(s store.Store, cdir string) ([]byte, error) {
	b, err := ReadSmall(s, Join(cdir, DirIVFile), names.DirIVSize)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err2 := s.Lstat(cdir); err2 != nil {
			return nil, err2
		}
		return nil, Corruptf("directory %s: missing %s", cdir, DirIVFile)
	}
	if err != nil {
		return nil, err
	}
	if len(b) != names.DirIVSize {
		return nil, Corruptf("directory %s: %s has %d bytes instead of %d", cdir, DirIVFile, len(b), names.DirIVSize)
	}
	if allZero(b) {
		return nil, Corruptf("directory %s: %s is all zero", cdir, DirIVFile)
	}
	return b, nil
}

// WriteDirIV creates the IV file of ciphertext directory cdir, which must
// not have one, with iv (a fresh random one if nil), synced. It returns
// the IV.
func WriteDirIV(s store.Store, cdir string, iv []byte) ([]byte, error) {
	if iv == nil {
		iv = make([]byte, names.DirIVSize)
		if _, err := rand.Read(iv); err != nil {
			return nil, err
		}
	}
	if err := WriteNew(s, Join(cdir, DirIVFile), iv, true); err != nil {
		return nil, err
	}
	return iv, nil
}

// WriteNew creates the file p, which must not exist (fs.ErrExist), with
// data and mode FileMode, synced if sync is set. On failure nothing is
// left behind.
func WriteNew(s store.Store, p string, data []byte, sync bool) error {
	f, err := s.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.Remove(p)
	}
	return err
}

// LongNamePath is the .name file of the hashed entry at cpath.
func LongNamePath(cpath string) string { return cpath + LongNameSuffix }

// ReadLongName reads the full encrypted name of the hashed entry stored
// in ciphertext directory cdir and checks it against the hash.
func ReadLongName(s store.Store, nt *names.Transform, cdir, stored string) (string, error) {
	nf := stored + LongNameSuffix
	b, err := ReadSmall(s, Join(cdir, nf), MaxLongNameFile)
	if err != nil {
		return "", err
	}
	if len(b) == 0 || len(b) > MaxLongNameFile {
		return "", Corruptf("long-name file %s has a bad length (%d bytes)", nf, len(b))
	}
	full := string(b)
	if nt.HashLongName(full) != stored {
		return "", Corruptf("long-name file %s does not match its hash", nf)
	}
	return full, nil
}

// WriteLongName creates the .name file of the hashed entry at cpath with
// its full encrypted name. If one exists already it fails with
// fs.ErrExist.
func WriteLongName(s store.Store, cpath, full string) error {
	return WriteNew(s, LongNamePath(cpath), []byte(full), false)
}

// EncryptTarget encrypts a symlink target (§7): the sealed target in the
// vault's name encoding.
func EncryptTarget(codec *content.Codec, nt *names.Transform, target string) string {
	return nt.Encoding().EncodeToString(codec.EncryptBlob([]byte(target)))
}

// EncryptTargetNonce is EncryptTarget with a given nonce (reverse mode
// derives it from the path, §10.5).
func EncryptTargetNonce(codec *content.Codec, nt *names.Transform, target string, nonce []byte) string {
	return nt.Encoding().EncodeToString(codec.EncryptBlobNonce([]byte(target), nonce))
}

// DecryptTarget decrypts a stored symlink target.
func DecryptTarget(codec *content.Codec, nt *names.Transform, stored string) (string, error) {
	raw, err := nt.Encoding().Strict().DecodeString(stored)
	if err != nil {
		return "", Corrupt("symlink target is not valid base64", err)
	}
	pt, err := codec.DecryptBlob(raw)
	if err != nil {
		return "", fmt.Errorf("symlink target: %w", err)
	}
	return string(pt), nil
}

// EncryptXattrValue seals an xattr value (§8); an empty value stays
// empty.
func EncryptXattrValue(codec *content.Codec, v []byte) []byte {
	if len(v) == 0 {
		return v
	}
	return codec.EncryptBlob(v)
}

// EncryptXattrValueNonce is EncryptXattrValue with a given nonce (reverse
// mode, §10.6).
func EncryptXattrValueNonce(codec *content.Codec, v, nonce []byte) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	return codec.EncryptBlobNonce(v, nonce)
}

// DecryptXattrValue opens a stored xattr value; an empty value is empty.
// Old gocryptfs versions stored values base64-encoded (URL-safe, with or
// without padding, or standard); gocryptfs still reads them, and so does
// this, when what decodes authenticates.
func DecryptXattrValue(codec *content.Codec, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return []byte{}, nil
	}
	pt, err := codec.DecryptBlob(v)
	if err == nil {
		return pt, nil
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding} {
		if raw, berr := enc.DecodeString(string(v)); berr == nil {
			if pt, derr := codec.DecryptBlob(raw); derr == nil {
				return pt, nil
			}
		}
	}
	return nil, err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
