// Package aead builds the three content AEADs of the gocryptfs format with
// the nonce sizes it uses (FORMAT.md §2, §5.1). On disk, every sealed unit
// is nonce || Seal(nil, nonce, plaintext, ad), for all three.
package aead

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/jacobsa/crypto/siv"
	"golang.org/x/crypto/chacha20poly1305"
)

// ErrOpen is returned when authentication fails.
var ErrOpen = errors.New("aead: message authentication failed")

// NewGCM returns AES-256-GCM with a 16-byte nonce and a 16-byte tag.
func NewGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("aead: AES-256-GCM key must be 32 bytes, not %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithNonceSize(b, 16)
}

// NewXChaCha returns XChaCha20-Poly1305 (24-byte nonce).
func NewXChaCha(key []byte) (cipher.AEAD, error) {
	if len(key) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("aead: XChaCha20-Poly1305 key must be 32 bytes, not %d", len(key))
	}
	return chacha20poly1305.NewX(key)
}

// NewSIV returns AES-SIV-512 (RFC 5297 with a 64-byte key) as an AEAD with
// a 16-byte nonce: Seal computes V || C over the associated-data vector
// [ad, nonce].
func NewSIV(key []byte) (cipher.AEAD, error) {
	if len(key) != 64 {
		return nil, fmt.Errorf("aead: AES-SIV-512 key must be 64 bytes, not %d", len(key))
	}
	k := make([]byte, 64)
	copy(k, key)
	return &sivAEAD{key: k}, nil
}

type sivAEAD struct{ key []byte }

func (s *sivAEAD) NonceSize() int { return 16 }
func (s *sivAEAD) Overhead() int  { return 16 }

func (s *sivAEAD) Seal(dst, nonce, plaintext, ad []byte) []byte {
	if len(nonce) != 16 {
		panic("aead: wrong nonce length for AES-SIV") // programming error, as crypto/cipher does
	}
	out, err := siv.Encrypt(dst, s.key, plaintext, [][]byte{ad, nonce})
	if err != nil {
		panic("aead: AES-SIV: " + err.Error()) // only for invalid keys, excluded by NewSIV
	}
	return out
}

func (s *sivAEAD) Open(dst, nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(nonce) != 16 || len(ciphertext) < 16 {
		return nil, ErrOpen
	}
	pt, err := siv.Decrypt(s.key, ciphertext, [][]byte{ad, nonce})
	if err != nil {
		return nil, ErrOpen
	}
	return append(dst, pt...), nil
}
