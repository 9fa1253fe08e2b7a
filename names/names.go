// Package names encrypts and decrypts file names the way gocryptfs does:
// EME wide-block encryption with a per-directory IV, PKCS#7 padding and
// URL-safe base64, with long names replaced by a hash (FORMAT.md §6), and
// xattr names with a fixed IV (§8). It is pure: no I/O.
package names

import (
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/rfjakob/eme"
)

const (
	// DirIVFile is the per-directory IV file.
	DirIVFile = "gocryptfs.diriv"
	// DirIVSize is the length of a directory IV.
	DirIVSize = 16
	// LongNamePrefix starts the stored name of a hashed long name.
	LongNamePrefix = "gocryptfs.longname."
	// LongNameSuffix ends the file that holds a hashed name's full form.
	LongNameSuffix = ".name"
	// ConfigFile is the config file name in the root of a vault.
	ConfigFile = "gocryptfs.conf"
	// XattrPrefix starts every encrypted xattr name.
	XattrPrefix = "user.gocryptfs."
	// MaxNameLen is the longest plaintext name in bytes.
	MaxNameLen = 255
	// DefaultLongNameMax is the default long-name threshold.
	DefaultLongNameMax = 255
	// MinLongNameMax is the smallest allowed long-name threshold.
	MinLongNameMax = 62
)

type errnoErr struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoErr) Error() string { return e.msg }
func (e *errnoErr) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && t == e.errno
}

var (
	// ErrInvalidName reports a ciphertext name that does not decrypt.
	ErrInvalidName error = &errnoErr{"names: invalid encrypted name", syscall.EBADMSG}
	// ErrNameTooLong reports a plaintext name over 255 bytes.
	// errors.Is(err, syscall.ENAMETOOLONG) holds.
	ErrNameTooLong error = &errnoErr{"names: name too long", syscall.ENAMETOOLONG}
	// ErrBadPlainName reports an empty name, ".", "..", or one with '/'
	// or NUL. errors.Is(err, syscall.EINVAL) holds.
	ErrBadPlainName error = &errnoErr{"names: invalid plaintext name", syscall.EINVAL}
)

var xattrIV = []byte("xattr_name_iv_xx")

// Options configure a Transform.
type Options struct {
	// Raw64 selects base64 without padding (all vaults since gocryptfs 1.3).
	Raw64 bool
	// LongNameMax is the long-name threshold: encrypted names longer than
	// this are hashed. 0 means 255.
	LongNameMax int
	// NoLongNames disables hashing (recovery of very old vaults only).
	NoLongNames bool
}

// Transform encrypts names. It is safe for concurrent use.
type Transform struct {
	eme         *eme.EMECipher
	enc         *base64.Encoding
	longNameMax int
	noLong      bool
}

// New returns a Transform for the 32-byte EME name key.
func New(key []byte, opts *Options) (*Transform, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("names: key must be 32 bytes, not %d", len(key))
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LongNameMax == 0 {
		o.LongNameMax = DefaultLongNameMax
	}
	if o.LongNameMax < MinLongNameMax || o.LongNameMax > DefaultLongNameMax {
		return nil, fmt.Errorf("names: LongNameMax %d out of range %d..%d", o.LongNameMax, MinLongNameMax, DefaultLongNameMax)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	enc := base64.URLEncoding
	if o.Raw64 {
		enc = base64.RawURLEncoding
	}
	return &Transform{eme: eme.New(block), enc: enc.Strict(), longNameMax: o.LongNameMax, noLong: o.NoLongNames}, nil
}

// Encoding returns the base64 flavour of the vault (names, long-name
// hashes, symlink targets, xattr names).
func (t *Transform) Encoding() *base64.Encoding { return t.enc }

// LongNameMax returns the long-name threshold.
func (t *Transform) LongNameMax() int { return t.longNameMax }

// CheckPlain validates a plaintext name.
func CheckPlain(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrBadPlainName, name)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes", ErrNameTooLong, len(name))
	}
	return nil
}

func pad16(b []byte) []byte {
	n := 16 - len(b)%16
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}

func unpad16(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%16 != 0 {
		return nil, errors.New("bad length")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > 16 || n >= len(b) {
		return nil, errors.New("bad padding")
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errors.New("bad padding")
		}
	}
	return b[:len(b)-n], nil
}

func checkIV(iv []byte) error {
	if len(iv) != DirIVSize {
		return fmt.Errorf("names: IV must be %d bytes, not %d", DirIVSize, len(iv))
	}
	return nil
}

// EncryptName encrypts a plaintext name with the directory IV. The result
// is the full encrypted name; Shorten turns it into the stored name.
func (t *Transform) EncryptName(plain string, dirIV []byte) (string, error) {
	if err := CheckPlain(plain); err != nil {
		return "", err
	}
	if err := checkIV(dirIV); err != nil {
		return "", err
	}
	c := t.eme.Encrypt(dirIV, pad16([]byte(plain)))
	return t.enc.EncodeToString(c), nil
}

// DecryptName decrypts a full encrypted name (not a hashed one).
func (t *Transform) DecryptName(cipherName string, dirIV []byte) (string, error) {
	if err := checkIV(dirIV); err != nil {
		return "", err
	}
	plain, err := t.decrypt(cipherName, dirIV)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, cipherName, err)
	}
	if err := CheckPlain(plain); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, cipherName, err)
	}
	return plain, nil
}

func (t *Transform) decrypt(cipherName string, iv []byte) (string, error) {
	if cipherName == "" || len(cipherName) > 2*1024 {
		return "", errors.New("bad length")
	}
	c, err := t.enc.DecodeString(cipherName)
	if err != nil {
		return "", err
	}
	// Strict decoding still accepts CR/LF; gocryptfs 2.5+ does not.
	if strings.ContainsAny(cipherName, "\r\n") {
		return "", errors.New("line break in name")
	}
	if len(c) == 0 || len(c)%16 != 0 || len(c) > 2048 {
		return "", errors.New("bad length")
	}
	p := t.eme.Decrypt(iv, c)
	p, err = unpad16(p)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// HashLongName returns the stored form of a long encrypted name.
func (t *Transform) HashLongName(cipherName string) string {
	h := sha256.Sum256([]byte(cipherName))
	return LongNamePrefix + t.enc.EncodeToString(h[:])
}

// Shorten returns the name to store for a full encrypted name: the name
// itself, or its hash when it is longer than the threshold.
func (t *Transform) Shorten(cipherName string) (stored string, long bool) {
	if t.noLong || len(cipherName) <= t.longNameMax {
		return cipherName, false
	}
	return t.HashLongName(cipherName), true
}

// IsLongName reports whether a stored name is a hashed long name (and not
// its .name file).
func IsLongName(stored string) bool {
	return strings.HasPrefix(stored, LongNamePrefix) && !strings.HasSuffix(stored, LongNameSuffix)
}

// IsLongNameFile reports whether a stored name is the .name file of a
// hashed long name.
func IsLongNameFile(stored string) bool {
	return strings.HasPrefix(stored, LongNamePrefix) && strings.HasSuffix(stored, LongNameSuffix)
}

// EncryptXattrName encrypts an extended attribute name (including its
// namespace) into the stored "user.gocryptfs.<base64>" form.
func (t *Transform) EncryptXattrName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: xattr name %q", ErrBadPlainName, name)
	}
	if len(name) > 2032 {
		return "", ErrNameTooLong
	}
	c := t.eme.Encrypt(xattrIV, pad16([]byte(name)))
	return XattrPrefix + t.enc.EncodeToString(c), nil
}

// DecryptXattrName decrypts a stored xattr name.
func (t *Transform) DecryptXattrName(stored string) (string, error) {
	if !strings.HasPrefix(stored, XattrPrefix) {
		return "", fmt.Errorf("%w: xattr %q lacks the %s prefix", ErrInvalidName, stored, XattrPrefix)
	}
	name, err := t.decrypt(stored[len(XattrPrefix):], xattrIV)
	if err != nil {
		return "", fmt.Errorf("%w: xattr %q: %v", ErrInvalidName, stored, err)
	}
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: xattr %q", ErrInvalidName, stored)
	}
	return name, nil
}
