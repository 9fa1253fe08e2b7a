// Package content implements the gocryptfs v2 file content format
// (FORMAT.md §5): an 18-byte header with a random file ID, then 4096-byte
// plaintext blocks each sealed with an AEAD bound to the block number and
// the file ID; all-zero ciphertext blocks are holes. File is the
// random-access read-modify-write engine over a ciphertext io.ReaderAt and
// io.WriterAt. The package does no path handling and no I/O of its own.
package content

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/sealfs/sealfs/internal/aead"
)

// Suite is a content cipher.
type Suite int

// The content ciphers of the format.
const (
	AESGCM            Suite = iota // AES-256-GCM, 128-bit nonces
	AESSIV                         // AES-SIV-512
	XChaCha20Poly1305              // XChaCha20-Poly1305
)

// String returns the name gocryptfs -info prints.
func (s Suite) String() string {
	switch s {
	case AESGCM:
		return "AES-GCM-256"
	case AESSIV:
		return "AES-SIV-512"
	case XChaCha20Poly1305:
		return "XChaCha20-Poly1305"
	}
	return fmt.Sprintf("Suite(%d)", int(s))
}

// KeySize returns the content key length.
func (s Suite) KeySize() int {
	if s == AESSIV {
		return 64
	}
	return 32
}

// NonceSize returns the per-block nonce length.
func (s Suite) NonceSize() int {
	if s == XChaCha20Poly1305 {
		return 24
	}
	return 16
}

// Format constants.
const (
	PlainBlockSize = 4096
	HeaderSize     = 18
	FileIDSize     = 16
	HeaderVersion  = 2
	tagSize        = 16
)

// ErrCorrupt reports ciphertext that failed authentication or is
// malformed.
var ErrCorrupt = errors.New("content: authentication failed")

// CorruptError says where corruption was found in a file. Block is -1 for
// the header; Offset is the plaintext offset of the block.
type CorruptError struct {
	Block  int64
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	if e.Block < 0 {
		return "corrupt file header: " + e.Reason
	}
	return fmt.Sprintf("corrupt block %d at offset %d: %s", e.Block, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Codec seals and opens blocks. It is safe for concurrent use.
type Codec struct {
	suite     Suite
	aead      cipher.AEAD
	nonceSize int
	overhead  int
	cbs       int
	bufs      sync.Pool // *[]byte ciphertext buffers of File reads and writes
}

// maxPooled is the largest buffer kept for reuse (a 1 MiB write plus
// overhead; larger ones are left to the garbage collector).
const maxPooled = 2 << 20

// getBuf returns a buffer of length n, reused when possible. Its contents
// are undefined.
func (c *Codec) getBuf(n int) []byte {
	if n <= maxPooled {
		if bp, ok := c.bufs.Get().(*[]byte); ok && cap(*bp) >= n {
			return (*bp)[:n]
		}
		return make([]byte, n, maxPooled)
	}
	return make([]byte, n)
}

// putBuf gives a buffer from getBuf back.
func (c *Codec) putBuf(b []byte) {
	if cap(b) >= maxPooled && cap(b) <= maxPooled {
		c.bufs.Put(&b)
	}
}

// New returns a Codec for suite with the derived content key.
func New(s Suite, key []byte) (*Codec, error) {
	if len(key) != s.KeySize() {
		return nil, fmt.Errorf("content: %v key must be %d bytes, not %d", s, s.KeySize(), len(key))
	}
	var a cipher.AEAD
	var err error
	switch s {
	case AESGCM:
		a, err = aead.NewGCM(key)
	case AESSIV:
		a, err = aead.NewSIV(key)
	case XChaCha20Poly1305:
		a, err = aead.NewXChaCha(key)
	default:
		return nil, fmt.Errorf("content: unknown suite %d", int(s))
	}
	if err != nil {
		return nil, err
	}
	ns := a.NonceSize()
	return &Codec{suite: s, aead: a, nonceSize: ns, overhead: ns + a.Overhead(), cbs: PlainBlockSize + ns + a.Overhead()}, nil
}

// Suite returns the codec's cipher.
func (c *Codec) Suite() Suite { return c.suite }

// Overhead is the nonce plus tag size of a block (32 or 40).
func (c *Codec) Overhead() int { return c.overhead }

// NonceSize is the nonce length.
func (c *Codec) NonceSize() int { return c.nonceSize }

// CipherBlockSize is the size of a full ciphertext block.
func (c *Codec) CipherBlockSize() int { return c.cbs }

// CipherSize converts a plaintext size to the ciphertext size (§5.4).
func (c *Codec) CipherSize(plain int64) int64 {
	if plain <= 0 {
		return 0
	}
	full := plain / PlainBlockSize
	rem := plain % PlainBlockSize
	size := HeaderSize + full*int64(c.cbs)
	if rem > 0 {
		size += rem + int64(c.overhead)
	}
	return size
}

// PlainSize converts a ciphertext size to the plaintext size (§5.4). A
// header-only or shorter file is empty; a trailing partial block too short
// MaxPlainSize is the largest plaintext size (and end of a write) whose
// ciphertext fits in an off_t: writes, truncates and allocations beyond
// it fail with EFBIG, as on a local file system past its largest file.
func (c *Codec) MaxPlainSize() int64 {
	return (math.MaxInt64 - HeaderSize) / int64(c.cbs) * PlainBlockSize
}

// to hold data counts as one byte (reading it fails).
func (c *Codec) PlainSize(cipherSize int64) int64 {
	if cipherSize <= HeaderSize {
		return 0
	}
	body := cipherSize - HeaderSize
	cbs := int64(c.cbs)
	nblocks := (body + cbs - 1) / cbs
	rem := body % cbs
	if rem > 0 && rem <= int64(c.overhead) {
		return (nblocks-1)*PlainBlockSize + 1
	}
	p := body - nblocks*int64(c.overhead)
	if p < 0 {
		return 0
	}
	return p
}

func aad(buf *[8 + FileIDSize]byte, blockNo uint64, fileID []byte) []byte {
	binary.BigEndian.PutUint64(buf[:8], blockNo)
	n := copy(buf[8:], fileID)
	return buf[:8+n]
}

// Seal appends nonce || sealed(plain) for block blockNo of the file with
// fileID (nil for symlink targets and xattr values) to dst.
func (c *Codec) Seal(dst, plain, nonce []byte, blockNo uint64, fileID []byte) []byte {
	var ad [8 + FileIDSize]byte
	dst = append(dst, nonce...)
	return c.aead.Seal(dst, nonce, plain, aad(&ad, blockNo, fileID))
}

// SealRandom is Seal with a fresh random nonce.
func (c *Codec) SealRandom(dst, plain []byte, blockNo uint64, fileID []byte) []byte {
	nonce := make([]byte, c.nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		panic("content: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return c.Seal(dst, plain, nonce, blockNo, fileID)
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

var zeroBlock = make([]byte, PlainBlockSize)

// Open authenticates and decrypts one ciphertext block and appends the
// plaintext to dst. A full-size all-zero block is a hole and decrypts to
// 4096 zero bytes. Failures are errors.Is(err, ErrCorrupt).
func (c *Codec) Open(dst, block []byte, blockNo uint64, fileID []byte) ([]byte, error) {
	if len(block) <= c.overhead || len(block) > c.cbs {
		return nil, fmt.Errorf("%w: block of %d bytes", ErrCorrupt, len(block))
	}
	nonce := block[:c.nonceSize]
	if allZero(nonce) {
		if len(block) == c.cbs && allZero(block) {
			return append(dst, zeroBlock...), nil
		}
		return nil, fmt.Errorf("%w: all-zero nonce", ErrCorrupt)
	}
	var ad [8 + FileIDSize]byte
	out, err := c.aead.Open(dst, nonce, block[c.nonceSize:], aad(&ad, blockNo, fileID))
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// EncryptBlob encrypts a symlink target or xattr value: block 0, no file
// ID, random nonce (§7, §8).
func (c *Codec) EncryptBlob(plain []byte) []byte {
	return c.SealRandom(make([]byte, 0, len(plain)+c.overhead), plain, 0, nil)
}

// EncryptBlobNonce is EncryptBlob with an explicit nonce (reverse mode).
func (c *Codec) EncryptBlobNonce(plain, nonce []byte) []byte {
	return c.Seal(make([]byte, 0, len(plain)+c.overhead), plain, nonce, 0, nil)
}

// DecryptBlob decrypts what EncryptBlob made.
func (c *Codec) DecryptBlob(ct []byte) ([]byte, error) {
	if len(ct) < c.overhead {
		return nil, fmt.Errorf("%w: blob of %d bytes", ErrCorrupt, len(ct))
	}
	nonce := ct[:c.nonceSize]
	if allZero(nonce) {
		return nil, fmt.Errorf("%w: all-zero nonce", ErrCorrupt)
	}
	var ad [8 + FileIDSize]byte
	out, err := c.aead.Open(nil, nonce, ct[c.nonceSize:], aad(&ad, 0, nil))
	if err != nil {
		return nil, ErrCorrupt
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// Header is the 18-byte file header.
type Header struct {
	FileID [FileIDSize]byte
}

// NewHeader returns a header with a random file ID.
func NewHeader() (Header, error) {
	var h Header
	if _, err := rand.Read(h.FileID[:]); err != nil {
		return h, err
	}
	return h, nil
}

// ParseHeader parses and checks a file header.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, &CorruptError{Block: -1, Reason: fmt.Sprintf("%d bytes", len(b))}
	}
	if v := binary.BigEndian.Uint16(b); v != HeaderVersion {
		return h, &CorruptError{Block: -1, Reason: fmt.Sprintf("version %d", v)}
	}
	copy(h.FileID[:], b[2:HeaderSize])
	if allZero(h.FileID[:]) {
		return h, &CorruptError{Block: -1, Reason: "all-zero file ID"}
	}
	return h, nil
}

// Bytes returns the 18-byte encoding.
func (h Header) Bytes() []byte {
	b := make([]byte, HeaderSize)
	binary.BigEndian.PutUint16(b, HeaderVersion)
	copy(b[2:], h.FileID[:])
	return b
}
