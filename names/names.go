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
	// ErrInvalidName reports a ciphertext name that does not decrypt
	// (bad base64, length, padding, or a result that breaks the plaintext
	// name rules). errors.Is(err, syscall.EBADMSG) holds.
	ErrInvalidName error = &errnoErr{"names: invalid encrypted name", syscall.EBADMSG}
	// ErrNameTooLong reports a plaintext name over 255 bytes.
	// errors.Is(err, syscall.ENAMETOOLONG) holds.
	ErrNameTooLong error = &errnoErr{"names: name too long", syscall.ENAMETOOLONG}
	// ErrBadPlainName reports an empty name, ".", "..", or one with '/'
	// or NUL. errors.Is(err, syscall.EINVAL) holds.
	ErrBadPlainName error = &errnoErr{"names: invalid plaintext name", syscall.EINVAL}
	// ErrXattrNameTooLong reports an xattr name over MaxXattrNameLen bytes.
	// errors.Is(err, syscall.ERANGE) holds, the errno Linux gives for it.
	ErrXattrNameTooLong error = &errnoErr{"names: xattr name too long", syscall.ERANGE}
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

// Transform encrypts and decrypts names of one vault. It is immutable and
// safe for concurrent use.
type Transform struct {
	eme         *eme.EMECipher
	enc         *base64.Encoding
	longNameMax int
	noLong      bool
}

// New returns a Transform for the 32-byte EME name key (AES-256). It keeps
// only the expanded AES key schedule, so the caller may zero key afterwards.
// opts may be nil (padded base64, threshold 255).
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

// maxCipherBytes is the longest decoded ciphertext name: a 255-byte
// plaintext name pads to 256 bytes. Linux also caps xattr names at 255
// bytes, so the same bound serves both.
const maxCipherBytes = MaxNameLen + 1

func checkIV(iv []byte) error {
	if len(iv) != DirIVSize {
		return fmt.Errorf("names: IV must be %d bytes, not %d", DirIVSize, len(iv))
	}
	return nil
}

// encrypt pads plain (at most 255 bytes), EME-encrypts it with iv and
// returns the base64 form, with a single allocation of our own.
func (t *Transform) encrypt(prefix, plain string, iv []byte) string {
	var buf [maxCipherBytes]byte
	n := copy(buf[:], plain)
	p := 16 - n%16 // PKCS#7: always 1..16 pad bytes
	for i := n; i < n+p; i++ {
		buf[i] = byte(p)
	}
	c := t.eme.Encrypt(iv, buf[:n+p])
	var out [len(XattrPrefix) + 344]byte // 344 = padded base64 of 256 bytes
	m := copy(out[:], prefix)
	m += t.enc.EncodedLen(len(c))
	t.enc.Encode(out[len(prefix):m], c)
	return string(out[:m])
}

// decrypt reverses encrypt: strict base64, length, EME, padding. It does
// not check the plaintext rules.
func (t *Transform) decrypt(cipherName string, iv []byte) (string, error) {
	if cipherName == "" {
		return "", errors.New("empty name")
	}
	if len(cipherName) > t.enc.EncodedLen(maxCipherBytes) {
		return "", errors.New("name too long")
	}
	// Strict decoding rejects non-canonical trailing bits and padding but
	// still skips CR and LF; refuse those so that every name has exactly
	// one encoding (gocryptfs 2.5+ does the same).
	if strings.ContainsAny(cipherName, "\r\n") {
		return "", errors.New("line break in name")
	}
	var src [344]byte
	var dst [258]byte
	n, err := t.enc.Decode(dst[:], src[:copy(src[:], cipherName)])
	if err != nil {
		return "", err
	}
	if n == 0 || n%16 != 0 {
		return "", fmt.Errorf("decoded length %d is not a positive multiple of 16", n)
	}
	p := t.eme.Decrypt(iv, dst[:n])
	pad := int(p[n-1])
	if pad == 0 || pad > 16 || pad >= n {
		return "", errors.New("bad padding")
	}
	for _, b := range p[n-pad:] {
		if int(b) != pad {
			return "", errors.New("bad padding")
		}
	}
	return string(p[:n-pad]), nil
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
	return t.encrypt("", plain, dirIV), nil
}

// DecryptName decrypts a full encrypted name (not a hashed one). Every
// failure, including a result that breaks the plaintext name rules, is
// ErrInvalidName.
func (t *Transform) DecryptName(cipherName string, dirIV []byte) (string, error) {
	if err := checkIV(dirIV); err != nil {
		return "", err
	}
	plain, err := t.decrypt(cipherName, dirIV)
	if err == nil {
		err = CheckPlain(plain)
	}
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, cipherName, err)
	}
	return plain, nil
}

// HashLongName returns the stored form of a long encrypted name:
// "gocryptfs.longname." + base64(SHA-256(cipherName)).
func (t *Transform) HashLongName(cipherName string) string {
	var h [sha256.Size]byte
	if len(cipherName) <= 344 {
		var in [344]byte // keeps the common case free of allocations
		h = sha256.Sum256(in[:copy(in[:], cipherName)])
	} else {
		h = sha256.Sum256([]byte(cipherName))
	}
	var out [len(LongNamePrefix) + 44]byte
	n := copy(out[:], LongNamePrefix)
	m := n + t.enc.EncodedLen(len(h))
	t.enc.Encode(out[n:m], h[:])
	return string(out[:m])
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

// MaxXattrNameLen is the longest xattr name Linux accepts (XATTR_NAME_MAX).
// The stored form must fit it too, which limits plaintext xattr names to
// 175 bytes on real file systems; that limit is the backing store's to
// enforce (ERANGE).
const MaxXattrNameLen = 255

func checkXattrName(name string) error {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: xattr name %q", ErrBadPlainName, name)
	}
	if len(name) > MaxXattrNameLen {
		return fmt.Errorf("%w: %d bytes", ErrXattrNameTooLong, len(name))
	}
	return nil
}

// EncryptXattrName encrypts an extended attribute name (including its
// namespace, e.g. all of "user.comment") with the fixed IV
// "xattr_name_iv_xx" into the stored "user.gocryptfs.<base64>" form (§8).
func (t *Transform) EncryptXattrName(name string) (string, error) {
	if err := checkXattrName(name); err != nil {
		return "", err
	}
	return t.encrypt(XattrPrefix, name, xattrIV), nil
}

// DecryptXattrName decrypts a stored xattr name. Names without the
// "user.gocryptfs." prefix and undecryptable ones give ErrInvalidName.
func (t *Transform) DecryptXattrName(stored string) (string, error) {
	c, ok := strings.CutPrefix(stored, XattrPrefix)
	if !ok {
		return "", fmt.Errorf("%w: xattr %q lacks the %s prefix", ErrInvalidName, stored, XattrPrefix)
	}
	name, err := t.decrypt(c, xattrIV)
	if err == nil {
		err = checkXattrName(name)
	}
	if err != nil {
		return "", fmt.Errorf("%w: xattr %q: %v", ErrInvalidName, stored, err)
	}
	return name, nil
}
