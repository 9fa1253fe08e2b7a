package sealfs

import (
	"errors"
	"io/fs"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/names"
)

var (
	// ErrCorrupt reports ciphertext that failed authentication or is
	// malformed: a file header, a content block, a name, a directory IV, a
	// symlink target or an xattr. Wrong bytes are never returned in its
	// place. It is the same value as content.ErrCorrupt.
	ErrCorrupt = content.ErrCorrupt

	// ErrNameTooLong reports a plaintext name longer than 255 bytes, or one
	// whose encryption does not fit the store. errors.Is(err,
	// syscall.ENAMETOOLONG) also holds.
	ErrNameTooLong = names.ErrNameTooLong

	// ErrReadOnly is returned by write operations on a read-only FS.
	// errors.Is(err, syscall.EROFS) also holds.
	ErrReadOnly error = &errnoError{msg: "sealfs: read-only file system", errno: syscall.EROFS}

	// ErrNotEmpty is returned by Create for a directory that is not empty.
	// errors.Is(err, syscall.ENOTEMPTY) also holds.
	ErrNotEmpty error = &errnoError{msg: "sealfs: directory not empty", errno: syscall.ENOTEMPTY}

	// ErrEscapes is returned when a symlink inside the vault points outside
	// of it and the operation would have to follow it.
	ErrEscapes error = &errnoError{msg: "sealfs: path escapes from the vault", errno: syscall.EXDEV}
)

// CorruptError says where corrupt ciphertext was found in a file.
// errors.Is(err, ErrCorrupt) holds for it.
type CorruptError = content.CorruptError

// errnoError is a sentinel that also matches a syscall.Errno with errors.Is.
type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string { return e.msg }

func (e *errnoError) Is(target error) bool {
	if t, ok := target.(syscall.Errno); ok {
		return t == e.errno
	}
	return false
}

// Unwrap exposes the errno for errors.As(err, *syscall.Errno).
func (e *errnoError) Unwrap() error { return e.errno }

// corrupt returns an error that is errors.Is(ErrCorrupt) with a message.
func corrupt(msg string, err error) error {
	if err == nil {
		return &corruptErr{msg: msg}
	}
	return &corruptErr{msg: msg, err: err}
}

type corruptErr struct {
	msg string
	err error
}

func (e *corruptErr) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}
func (e *corruptErr) Is(target error) bool { return target == ErrCorrupt }
func (e *corruptErr) Unwrap() error        { return e.err }

// pathErr wraps err for the plaintext path name. A store error carrying a
// ciphertext path is unwrapped so that only the plaintext path shows.
func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	// The common cases without errors.As, whose target escapes (an
	// allocation on every failing call).
	pe, ok := err.(*fs.PathError)
	if !ok {
		if _, bare := err.(syscall.Errno); !bare {
			errors.As(err, &pe)
		}
	}
	if pe != nil {
		if pe.Path == name && pe.Op == op {
			return err
		}
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}
