// Package vault reads, checks, writes and unlocks gocryptfs.conf
// (FORMAT.md §3, §4): the feature flags, the scrypt parameters, the
// wrapped master key, and the key schedule that turns a master key into
// the content codec and the name transform.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/names"
	"golang.org/x/crypto/hkdf"
	"golang.org/x/crypto/scrypt"
)

// File names.
const (
	DefaultFile = "gocryptfs.conf"
	ReverseFile = ".gocryptfs.reverse.conf"
)

// scrypt cost limits (log2 N).
const (
	DefaultScryptLogN = 16
	MinScryptLogN     = 10
	MaxScryptLogN     = 28
)

// Errors.
var (
	ErrWrongPassword      = errors.New("vault: wrong password")
	ErrUnknownFeature     = errors.New("vault: unknown feature flag")
	ErrWeakParameters     = errors.New("vault: scrypt parameters below the minimum")
	ErrUnsupportedVersion = errors.New("vault: unsupported on-disk format version")
	ErrInvalidConfig      = errors.New("vault: invalid config")
	ErrBadKey             = errors.New("vault: invalid master key")
)

// Key is a 32-byte master key. Its String method never shows the key.
type Key struct{ b [32]byte }

// GenerateKey returns a random master key.
func GenerateKey() (*Key, error) {
	k := &Key{}
	if _, err := rand.Read(k.b[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// KeyFromBytes copies a 32-byte key.
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("%w: %d bytes, want 32", ErrBadKey, len(b))
	}
	k := &Key{}
	copy(k.b[:], b)
	return k, nil
}

// ParseKey parses 64 hex digits (either case); dashes and white space
// anywhere are ignored, so the grouped form gocryptfs prints at init
// ("0e3b389c-b73ec2e7-...\n    a25e478e-...") is accepted. Errors wrap
// ErrBadKey and never quote the input.
func ParseKey(s string) (*Key, error) {
	var buf [64]byte
	n := 0
	for _, r := range s {
		if r == '-' || unicode.IsSpace(r) {
			continue
		}
		if n == len(buf) {
			clear(buf[:])
			return nil, fmt.Errorf("%w: more than 64 hex digits", ErrBadKey)
		}
		if r >= utf8.RuneSelf {
			clear(buf[:])
			return nil, fmt.Errorf("%w: not hexadecimal", ErrBadKey)
		}
		buf[n] = byte(r)
		n++
	}
	defer clear(buf[:])
	if n != len(buf) {
		return nil, fmt.Errorf("%w: %d hex digits, want 64", ErrBadKey, n)
	}
	k := &Key{}
	if _, err := hex.Decode(k.b[:], buf[:]); err != nil {
		k.Destroy()
		return nil, fmt.Errorf("%w: not hexadecimal", ErrBadKey)
	}
	return k, nil
}

// Bytes returns a copy of the key.
func (k *Key) Bytes() []byte { return bytes.Clone(k.b[:]) }

// Hex returns the key as 64 lowercase hex digits.
func (k *Key) Hex() string { return hex.EncodeToString(k.b[:]) }

// Destroy zeroes the key. A destroyed key is all zeros, not unusable:
// callers must not use it afterwards.
func (k *Key) Destroy() { clear(k.b[:]) }

// String hides the key. (Value receivers, so that a Key inside a printed
// struct is hidden as well as a *Key.)
func (Key) String() string { return "vault.Key(redacted)" }

// GoString hides the key.
func (k Key) GoString() string { return k.String() }

// Format hides the key for every verb.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// Flag is a feature flag of the config.
type Flag string

// The feature flags (§3.3).
const (
	FlagPlaintextNames    Flag = "PlaintextNames"
	FlagDirIV             Flag = "DirIV"
	FlagEMENames          Flag = "EMENames"
	FlagGCMIV128          Flag = "GCMIV128"
	FlagLongNames         Flag = "LongNames"
	FlagLongNameMax       Flag = "LongNameMax"
	FlagAESSIV            Flag = "AESSIV"
	FlagRaw64             Flag = "Raw64"
	FlagHKDF              Flag = "HKDF"
	FlagFIDO2             Flag = "FIDO2"
	FlagXChaCha20Poly1305 Flag = "XChaCha20Poly1305"
)

var knownFlags = map[Flag]bool{
	FlagPlaintextNames: true, FlagDirIV: true, FlagEMENames: true, FlagGCMIV128: true,
	FlagLongNames: true, FlagLongNameMax: true, FlagAESSIV: true, FlagRaw64: true,
	FlagHKDF: true, FlagFIDO2: true, FlagXChaCha20Poly1305: true,
}

// Options choose the format of a new vault.
type Options struct {
	Suite              content.Suite
	PlaintextNames     bool
	DeterministicNames bool
	// LongNameMax is the long-name threshold, 62..255; 0 or 255 is the
	// default.
	LongNameMax int
	// ScryptLogN is log2 of the scrypt cost; 0 means DefaultScryptLogN.
	ScryptLogN int
	// Creator is written into the config; "" means "sealfs".
	Creator string
	// FIDO2 marks a vault whose password is a FIDO2 token's hmac-secret
	// (gocryptfs -init -fido2): the config records the token parameters
	// and the FIDO2 feature flag. Getting the secret is the caller's job.
	FIDO2 *FIDO2Params
	// NoHKDF and NoRaw64 describe legacy formats (gocryptfs before 1.3);
	// only FormatOnly uses them (master key without a config, §14.3).
	// New ignores them, as gocryptfs 2.x -init does.
	NoHKDF, NoRaw64 bool
}

// ScryptParams are the KDF parameters.
type ScryptParams struct {
	Salt   []byte
	N      int
	R      int
	P      int
	KeyLen int
}

// FIDO2Params are the FIDO2 token parameters.
type FIDO2Params struct {
	CredentialID  []byte   `json:",omitempty"`
	HMACSalt      []byte   `json:",omitempty"`
	AssertOptions []string `json:",omitempty"`
}

// Config is gocryptfs.conf. Field order is the order gocryptfs writes.
type Config struct {
	Creator      string
	EncryptedKey []byte
	ScryptObject ScryptParams
	Version      int
	FeatureFlags []string
	FIDO2        *FIDO2Params `json:",omitempty"`
	LongNameMax  int          `json:",omitempty"`
}

func flagsFor(o *Options) []string {
	fl := []Flag{}
	if !o.NoHKDF {
		fl = append(fl, FlagHKDF)
	}
	if o.Suite == content.XChaCha20Poly1305 {
		fl = append(fl, FlagXChaCha20Poly1305)
	} else {
		fl = append(fl, FlagGCMIV128)
	}
	if o.PlaintextNames {
		fl = append(fl, FlagPlaintextNames)
	} else {
		if !o.DeterministicNames {
			fl = append(fl, FlagDirIV)
		}
		if o.LongNameMax != 0 && o.LongNameMax != names.DefaultLongNameMax {
			fl = append(fl, FlagLongNameMax)
		}
		fl = append(fl, FlagEMENames, FlagLongNames)
		if !o.NoRaw64 {
			fl = append(fl, FlagRaw64)
		}
	}
	if o.Suite == content.AESSIV {
		fl = append(fl, FlagAESSIV)
	}
	if o.FIDO2 != nil {
		fl = append(fl, FlagFIDO2)
	}
	out := make([]string, len(fl))
	for i, f := range fl {
		out[i] = string(f)
	}
	return out
}

func formatConfig(o *Options) (*Config, error) {
	if o == nil {
		o = &Options{}
	}
	if o.Suite < content.AESGCM || o.Suite > content.XChaCha20Poly1305 {
		return nil, fmt.Errorf("%w: unknown content cipher %d", ErrInvalidConfig, int(o.Suite))
	}
	if o.Suite == content.XChaCha20Poly1305 && o.NoHKDF {
		return nil, fmt.Errorf("%w: XChaCha20-Poly1305 needs HKDF", ErrInvalidConfig)
	}
	if o.LongNameMax != 0 && (o.LongNameMax < names.MinLongNameMax || o.LongNameMax > names.DefaultLongNameMax) {
		return nil, fmt.Errorf("%w: LongNameMax %d out of range %d..%d", ErrInvalidConfig, o.LongNameMax, names.MinLongNameMax, names.DefaultLongNameMax)
	}
	creator := o.Creator
	if creator == "" {
		creator = "sealfs"
	}
	c := &Config{Creator: creator, Version: 2, FeatureFlags: flagsFor(o)}
	if o.FIDO2 != nil {
		if len(o.FIDO2.CredentialID) == 0 || len(o.FIDO2.HMACSalt) == 0 {
			return nil, fmt.Errorf("%w: FIDO2 without credential ID or HMAC salt", ErrInvalidConfig)
		}
		c.FIDO2 = &FIDO2Params{
			CredentialID:  bytes.Clone(o.FIDO2.CredentialID),
			HMACSalt:      bytes.Clone(o.FIDO2.HMACSalt),
			AssertOptions: slices.Clone(o.FIDO2.AssertOptions),
		}
	}
	if !o.PlaintextNames && o.LongNameMax != 0 && o.LongNameMax != names.DefaultLongNameMax {
		c.LongNameMax = o.LongNameMax
	}
	return c, nil
}

// New creates a config for a new vault with the master key wrapped by
// password.
//
// Like gocryptfs 2.x -init, New always writes a current format: NoHKDF and
// NoRaw64 are ignored. Key and password stay the caller's to clear.
func New(key *Key, password []byte, opts *Options) (*Config, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.NoHKDF, o.NoRaw64 = false, false
	c, err := formatConfig(&o)
	if err != nil {
		return nil, err
	}
	logN := DefaultScryptLogN
	if o.ScryptLogN != 0 {
		logN = o.ScryptLogN
	}
	if err := c.SetPassword(key, password, logN); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// FormatOnly returns a config with the flags of opts and no wrapped key,
// for opening a vault with its master key when the config file is gone.
func FormatOnly(opts *Options) (*Config, error) {
	c, err := formatConfig(opts)
	if err != nil {
		return nil, err
	}
	c.ScryptObject = ScryptParams{Salt: make([]byte, 32), N: 1 << MinScryptLogN, R: 8, P: 1, KeyLen: 32}
	return c, nil
}

// Parse decodes and validates a config.
func Parse(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: config file is empty", ErrInvalidConfig)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkWrappedKey(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkWrappedKey checks the length of EncryptedKey (§3.6): nonce, key and
// tag, 64 bytes with HKDF (16-byte nonce), 60 without (12-byte nonce).
func (c *Config) checkWrappedKey() error {
	want := 16 + 32 + 16
	if !c.Has(FlagHKDF) {
		want = 12 + 32 + 16
	}
	if len(c.EncryptedKey) != want {
		return fmt.Errorf("%w: EncryptedKey is %d bytes, want %d", ErrInvalidConfig, len(c.EncryptedKey), want)
	}
	return nil
}

// Load reads and parses a config file. A missing file gives an error
// that is errors.Is(err, fs.ErrNotExist).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Has reports whether feature flag f is set.
func (c *Config) Has(f Flag) bool {
	for _, s := range c.FeatureFlags {
		if s == string(f) {
			return true
		}
	}
	return false
}

// Validate checks the rules of §3.4.
func (c *Config) Validate() error {
	if c.Version != 2 {
		return fmt.Errorf("%w %d", ErrUnsupportedVersion, c.Version)
	}
	s := c.ScryptObject
	if s.N < 1<<MinScryptLogN || s.R < 8 || s.P < 1 || len(s.Salt) < 32 || s.KeyLen < 32 {
		return fmt.Errorf("%w: N=%d R=%d P=%d salt %d bytes KeyLen=%d", ErrWeakParameters, s.N, s.R, s.P, len(s.Salt), s.KeyLen)
	}
	// 128·N·R bytes of memory: allow what gocryptfs' largest cost (logN 28,
	// R 8) needs, and no more, so a hostile config cannot exhaust memory.
	if s.N > 1<<MaxScryptLogN || s.N&(s.N-1) != 0 || s.R > 64 || s.P > 16 || s.KeyLen != 32 ||
		int64(s.N)*int64(s.R) > int64(1)<<MaxScryptLogN*8 {
		return fmt.Errorf("%w: unusable scrypt parameters N=%d R=%d P=%d KeyLen=%d", ErrInvalidConfig, s.N, s.R, s.P, s.KeyLen)
	}
	for _, f := range c.FeatureFlags {
		if !knownFlags[Flag(f)] {
			return fmt.Errorf("%w %q", ErrUnknownFeature, f)
		}
	}
	x, siv, gcm128 := c.Has(FlagXChaCha20Poly1305), c.Has(FlagAESSIV), c.Has(FlagGCMIV128)
	switch {
	case x && siv:
		return fmt.Errorf("%w: XChaCha20Poly1305 and AESSIV together", ErrInvalidConfig)
	case siv && !gcm128:
		return fmt.Errorf("%w: AESSIV without GCMIV128", ErrInvalidConfig)
	case x && (gcm128 || !c.Has(FlagHKDF)):
		return fmt.Errorf("%w: XChaCha20Poly1305 needs HKDF and excludes GCMIV128", ErrInvalidConfig)
	case !x && !siv && !gcm128:
		return fmt.Errorf("%w: GCMIV128 missing (vault from gocryptfs 0.6 or older)", ErrUnsupportedVersion)
	}
	if c.Has(FlagPlaintextNames) {
		for _, f := range []Flag{FlagEMENames, FlagDirIV, FlagLongNames, FlagRaw64, FlagLongNameMax} {
			if c.Has(f) {
				return fmt.Errorf("%w: PlaintextNames with %s", ErrInvalidConfig, f)
			}
		}
	}
	if c.Has(FlagLongNameMax) != (c.LongNameMax != 0) {
		return fmt.Errorf("%w: LongNameMax flag and field disagree", ErrInvalidConfig)
	}
	if c.LongNameMax != 0 && (c.LongNameMax < names.MinLongNameMax || c.LongNameMax > names.DefaultLongNameMax) {
		return fmt.Errorf("%w: LongNameMax %d out of range", ErrInvalidConfig, c.LongNameMax)
	}
	return nil
}

// Suite returns the content cipher.
func (c *Config) Suite() content.Suite {
	switch {
	case c.Has(FlagXChaCha20Poly1305):
		return content.XChaCha20Poly1305
	case c.Has(FlagAESSIV):
		return content.AESSIV
	}
	return content.AESGCM
}

// PlaintextNames reports whether names are stored unencrypted.
func (c *Config) PlaintextNames() bool { return c.Has(FlagPlaintextNames) }

// DirIV reports whether directories have random IV files.
func (c *Config) DirIV() bool { return c.Has(FlagDirIV) }

// Raw64 reports whether names use unpadded base64.
func (c *Config) Raw64() bool { return c.Has(FlagRaw64) }

// LongNameMaxEffective returns the long-name threshold in use.
func (c *Config) LongNameMaxEffective() int {
	if c.LongNameMax != 0 {
		return c.LongNameMax
	}
	return names.DefaultLongNameMax
}

// Marshal encodes the config the way gocryptfs writes it.
func (c *Config) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Encode is Marshal for a config about to be stored: only a valid config
// with a wrapped key is encoded.
func (c *Config) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkWrappedKey(); err != nil {
		return nil, err
	}
	return c.Marshal()
}

// WriteFile writes the config atomically: to path.tmp (created
// exclusively, mode 0400), fsync (or a global sync if fsync fails), rename
// over path, fsync the directory. A leftover path.tmp makes it fail
// without touching path. Only a valid config with a wrapped key is
// written.
func (c *Config) WriteFile(path string) error {
	data, err := c.Encode()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		if f.Sync() != nil {
			// Some file systems cannot fsync; flush everything instead.
			syncAll()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// BackupFile hard-links path to path.bak (failing if that exists), as
// gocryptfs does before -passwd -masterkey.
func BackupFile(path string) error {
	return os.Link(path, path+".bak")
}

func hkdfKey(ikm []byte, info string, n int) []byte {
	out := make([]byte, n)
	if _, err := io.ReadFull(hkdf.New(sha256.New, ikm, nil, []byte(info)), out); err != nil {
		panic("vault: hkdf: " + err.Error()) // cannot happen for these lengths
	}
	return out
}

// HKDF info strings (§4.1).
const (
	infoEME     = "EME filename encryption"
	infoGCM     = "AES-GCM file content encryption"
	infoSIV     = "AES-SIV file content encryption"
	infoXChaCha = "XChaCha20-Poly1305 file content encryption"
)

// wrapAEAD returns the key-wrapping AEAD for the scrypt output.
func (c *Config) wrapAEAD(kek []byte) (cipher.AEAD, int, error) {
	key := kek
	nonceSize := 12
	if c.Has(FlagHKDF) {
		key = hkdfKey(kek, infoGCM, 32)
		defer clear(key)
		nonceSize = 16
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, 0, err
	}
	a, err := cipher.NewGCMWithNonceSize(b, nonceSize)
	return a, nonceSize, err
}

func (c *Config) kek(password []byte) ([]byte, error) {
	s := c.ScryptObject
	k, err := scrypt.Key(password, s.Salt, s.N, s.R, s.P, s.KeyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWeakParameters, err)
	}
	return k, nil
}

var wrapAD = make([]byte, 8)

// Unlock derives the key-encryption key from password and unwraps the
// master key. A wrong password gives ErrWrongPassword.
func (c *Config) Unlock(password []byte) (*Key, error) {
	if err := c.checkUnlockable(); err != nil {
		return nil, err
	}
	kek, err := c.kek(password)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	return c.UnlockHash(kek)
}

// PasswordHash is the scrypt output of password under the config's
// parameters: what unwraps the master key (UnlockHash). libgocryptfs calls
// it the scrypt hash; apps keep it (encrypted, e.g. by a fingerprint-bound
// key) to unlock without asking for the password, and it is as secret as
// the password. The caller wipes it.
func (c *Config) PasswordHash(password []byte) ([]byte, error) {
	if err := c.checkUnlockable(); err != nil {
		return nil, err
	}
	return c.kek(password)
}

func (c *Config) checkUnlockable() error {
	if c.Has(FlagFIDO2) && c.FIDO2 == nil {
		return fmt.Errorf("%w: FIDO2 flag without parameters", ErrInvalidConfig)
	}
	return c.checkWrappedKey()
}

// UnlockHash unwraps the master key with a PasswordHash. A wrong hash
// gives ErrWrongPassword.
func (c *Config) UnlockHash(kek []byte) (*Key, error) {
	if err := c.checkUnlockable(); err != nil {
		return nil, err
	}
	if len(kek) != c.ScryptObject.KeyLen {
		return nil, ErrWrongPassword
	}
	a, ns, err := c.wrapAEAD(kek)
	if err != nil {
		return nil, err
	}
	mk, err := a.Open(nil, c.EncryptedKey[:ns], c.EncryptedKey[ns:], wrapAD)
	if err != nil {
		return nil, ErrWrongPassword
	}
	defer clear(mk)
	return KeyFromBytes(mk)
}

// SetPassword wraps key with password under a new random salt (§14.4):
// only ScryptObject.Salt, ScryptObject.N (when logN is not 0) and
// EncryptedKey change. logN 0 keeps the current cost; a config without a
// wrapped key yet (FormatOnly) gets DefaultScryptLogN.
func (c *Config) SetPassword(key *Key, password []byte, logN int) error {
	kek, err := c.SetPasswordHash(key, password, logN)
	clear(kek)
	return err
}

// SetPasswordHash is SetPassword that also returns the new PasswordHash
// (which the caller wipes).
func (c *Config) SetPasswordHash(key *Key, password []byte, logN int) ([]byte, error) {
	if len(password) == 0 {
		return nil, fmt.Errorf("%w: empty password", ErrInvalidConfig)
	}
	n := c.ScryptObject.N
	if len(c.EncryptedKey) == 0 {
		n = 0
	}
	if logN != 0 {
		if logN < MinScryptLogN || logN > MaxScryptLogN {
			return nil, fmt.Errorf("%w: scrypt logN %d out of range %d..%d", ErrWeakParameters, logN, MinScryptLogN, MaxScryptLogN)
		}
		n = 1 << logN
	}
	if n == 0 {
		n = 1 << DefaultScryptLogN
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	s := ScryptParams{Salt: salt, N: n, R: 8, P: 1, KeyLen: 32}
	old := c.ScryptObject
	c.ScryptObject = s
	kek, err := c.kek(password)
	if err != nil {
		c.ScryptObject = old
		return nil, err
	}
	a, ns, err := c.wrapAEAD(kek)
	if err == nil {
		nonce := make([]byte, ns)
		if _, err = rand.Read(nonce); err == nil {
			c.EncryptedKey = a.Seal(nonce, nonce, key.b[:], wrapAD)
			return kek, nil
		}
	}
	clear(kek)
	c.ScryptObject = old
	return nil, err
}

// Ciphers is the key schedule: it derives the subkeys of the vault's
// format from the master key and returns the content codec and the name
// transform. nameOpts may set NoLongNames; the rest comes from the config.
func (c *Config) Ciphers(key *Key, nameOpts *names.Options) (*content.Codec, *names.Transform, error) {
	suite := c.Suite()
	var ck, nk []byte
	if c.Has(FlagHKDF) {
		info := infoGCM
		switch suite {
		case content.AESSIV:
			info = infoSIV
		case content.XChaCha20Poly1305:
			info = infoXChaCha
		}
		ck = hkdfKey(key.b[:], info, suite.KeySize())
		nk = hkdfKey(key.b[:], infoEME, 32)
	} else {
		switch suite {
		case content.AESSIV:
			h := sha512.Sum512(key.b[:])
			ck = h[:]
		case content.XChaCha20Poly1305:
			return nil, nil, fmt.Errorf("%w: XChaCha20-Poly1305 without HKDF", ErrInvalidConfig)
		default:
			ck = bytes.Clone(key.b[:])
		}
		nk = bytes.Clone(key.b[:])
	}
	defer clear(ck)
	defer clear(nk)
	codec, err := content.New(suite, ck)
	if err != nil {
		return nil, nil, err
	}
	no := names.Options{Raw64: c.Raw64(), LongNameMax: c.LongNameMax}
	if nameOpts != nil {
		no.NoLongNames = nameOpts.NoLongNames
	}
	nt, err := names.New(nk, &no)
	if err != nil {
		return nil, nil, err
	}
	return codec, nt, nil
}
