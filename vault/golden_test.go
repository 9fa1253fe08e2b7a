package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/names"
)

// The options that made each golden vault (README of the golden data).
var goldenOptions = map[string]Options{
	"default":                     {},
	"plaintextnames":              {PlaintextNames: true},
	"aessiv":                      {Suite: content.AESSIV},
	"xchacha":                     {Suite: content.XChaCha20Poly1305},
	"deterministic-names":         {DeterministicNames: true},
	"longnamemax62":               {LongNameMax: 62},
	"longnames":                   {},
	"reverse":                     {Suite: content.AESSIV},
	"reverse-deterministic-names": {Suite: content.AESSIV, DeterministicNames: true},
	"reverse-plaintextnames":      {Suite: content.AESSIV, PlaintextNames: true},
	"raw64-false":                 {NoRaw64: true}, // ignored at init, like gocryptfs
	"longnames-false":             {},
	"hkdf-false":                  {NoHKDF: true},
}

// New with the options gocryptfs was given writes the same file as
// gocryptfs, apart from the random salt and wrapped key (and the
// creator): field order, flag order, indentation, omitted fields.
func TestNewMatchesGoldenLayout(t *testing.T) {
	for name, path := range goldenConfigs(t) {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden, err := Parse(want)
			if err != nil {
				t.Fatal(err)
			}
			o, ok := goldenOptions[name]
			if !ok {
				t.Fatalf("no options for %s", name)
			}
			o.ScryptLogN = 10
			o.Creator = "gocryptfs 2.3"
			k, _ := GenerateKey()
			c, err := New(k, []byte("pw"), &o)
			if err != nil {
				t.Fatal(err)
			}
			c.ScryptObject.Salt = golden.ScryptObject.Salt
			c.EncryptedKey = golden.EncryptedKey
			got, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
			// FormatOnly with the same options has the same flags (it
			// honours NoHKDF and NoRaw64, so skip those two).
			if o.NoHKDF || o.NoRaw64 {
				return
			}
			f, err := FormatOnly(&o)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(f.FeatureFlags, " ") != strings.Join(golden.FeatureFlags, " ") || f.LongNameMax != golden.LongNameMax {
				t.Fatalf("FormatOnly flags %v, want %v", f.FeatureFlags, golden.FeatureFlags)
			}
		})
	}
}

// The key schedule of every golden forward vault: the name transform
// reproduces the root-level names of the control-socket map, and the
// content codec decrypts the recorded xattr values.
func TestGoldenCiphers(t *testing.T) {
	dir := testvault.Dir(t)
	for _, v := range testvault.Forward {
		t.Run(v, func(t *testing.T) {
			cdir := filepath.Join(dir, v, "cipher")
			c, err := Load(filepath.Join(cdir, DefaultFile))
			if err != nil {
				t.Fatal(err)
			}
			k, err := ParseKey(testvault.MasterKey(t, v))
			if err != nil {
				t.Fatal(err)
			}
			codec, nt, err := c.Ciphers(k, nil)
			if err != nil {
				t.Fatal(err)
			}
			if codec.Suite() != goldenOptions[v].Suite || c.Suite() != codec.Suite() {
				t.Fatalf("suite %v", codec.Suite())
			}
			if nt.LongNameMax() != c.LongNameMaxEffective() {
				t.Fatalf("LongNameMax %d", nt.LongNameMax())
			}
			iv := make([]byte, names.DirIVSize)
			if c.DirIV() {
				if iv, err = os.ReadFile(filepath.Join(cdir, names.DirIVFile)); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			cipherOf := map[string]string{}
			for _, e := range testvault.CipherMap(t, v) {
				cipherOf[e.Plain] = e.Cipher
				if c.PlaintextNames() || strings.Contains(e.Plain, "/") {
					continue
				}
				full, err := nt.EncryptName(e.Plain, iv)
				if err != nil {
					t.Fatal(err)
				}
				if stored, _ := nt.Shorten(full); stored != e.Cipher {
					t.Fatalf("%q -> %q, want %q", e.Plain, stored, e.Cipher)
				}
				n++
			}
			listing := map[string]testvault.Entry{}
			for _, e := range testvault.Listing(t, v) {
				listing[e.Path] = e
			}
			for _, e := range testvault.Manifest(t, v) {
				for name, val := range e.Xattrs {
					cname, err := nt.EncryptXattrName(name)
					if err != nil {
						t.Fatal(err)
					}
					ct, err := hex.DecodeString(listing[cipherOf[e.Path]].Xattrs[cname])
					if err != nil {
						t.Fatal(err)
					}
					if len(ct) == 0 { // an empty value stays empty (§8)
						if val != "" {
							t.Fatalf("%s %s: empty ciphertext", e.Path, name)
						}
					} else if pt, err := codec.DecryptBlob(ct); err != nil || hex.EncodeToString(pt) != val {
						t.Fatalf("%s %s: %x, %v; want %s", e.Path, name, pt, err, val)
					}
					n++
				}
			}
			if n < 3 {
				t.Fatalf("only %d checks", n)
			}
		})
	}
}

// Legacy (pre-HKDF) format, §3.6 and §4.2. The vectors were computed with
// an independent implementation (Python: hashlib.scrypt, the cryptography
// package's AESGCM/AESSIV and the EME of the golden data's
// tools/verify_vectors.py): master key 40..5f, password "test".
func TestLegacyKnownAnswers(t *testing.T) {
	const (
		mkHex   = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		ek      = "oKGio6SlpqeoqaqrCxaImiLcTzaO/YoXQr1t5SM2B9erUEHQyxJcorY/q0LWEnjArCrPpqlJMRecQruD"
		salt    = "xZdeKSmlYaY+iZOpnCcrlJj2UqoVA5/0qD672fOfxD8="
		name    = "Y-S0fhfcttJj8gzP-Wn2EQ==" // "legacy.txt", IV 00..0f, EME key = master key, padded base64
		gcmBlob = "101112131415161718191a1b1c1d1e1fd6ae336ae11a0fc38a5b0b046d9df4bee0ddb35d95a450c463a3291f"
		sivBlob = "101112131415161718191a1b1c1d1e1fe028f27b05a63d438f5bb5a2fef3e95099df42e7a1b5770fd9868d25"
	)
	nonce, _ := hex.DecodeString("101112131415161718191a1b1c1d1e1f")
	iv, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	for _, tc := range []struct {
		flags string
		suite content.Suite
		blob  string
	}{
		{`"GCMIV128", "DirIV", "EMENames", "LongNames"`, content.AESGCM, gcmBlob},
		{`"GCMIV128", "DirIV", "EMENames", "LongNames", "AESSIV"`, content.AESSIV, sivBlob},
	} {
		conf := `{"Creator": "old", "EncryptedKey": "` + ek + `", "ScryptObject": {"Salt": "` + salt +
			`", "N": 1024, "R": 8, "P": 1, "KeyLen": 32}, "Version": 2, "FeatureFlags": [` + tc.flags + `]}`
		c, err := Parse([]byte(conf))
		if err != nil {
			t.Fatal(err)
		}
		k, err := c.Unlock([]byte("test"))
		if err != nil {
			t.Fatal(err)
		}
		if k.Hex() != mkHex {
			t.Fatalf("legacy unwrap gave %s", k.Hex())
		}
		if _, err := c.Unlock([]byte("tesT")); err != ErrWrongPassword {
			t.Fatalf("wrong password: %v", err)
		}
		codec, nt, err := c.Ciphers(k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if codec.Suite() != tc.suite {
			t.Fatalf("suite %v", codec.Suite())
		}
		if got, _ := nt.EncryptName("legacy.txt", iv); got != name {
			t.Errorf("%v: legacy name %q, want %q", tc.suite, got, name)
		}
		if got := hex.EncodeToString(codec.EncryptBlobNonce([]byte("hello legacy"), nonce)); got != tc.blob {
			t.Errorf("%v: legacy content %s, want %s", tc.suite, got, tc.blob)
		}
		// The same key schedule from FormatOnly (-masterkey -hkdf=false -raw64=false).
		f, err := FormatOnly(&Options{Suite: tc.suite, NoHKDF: true, NoRaw64: true})
		if err != nil {
			t.Fatal(err)
		}
		if f.Has(FlagHKDF) || f.Raw64() {
			t.Fatalf("FormatOnly legacy flags %v", f.FeatureFlags)
		}
		codec2, nt2, err := f.Ciphers(k, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := nt2.EncryptName("legacy.txt", iv); got != name {
			t.Errorf("FormatOnly legacy name %q", got)
		}
		if got := hex.EncodeToString(codec2.EncryptBlobNonce([]byte("hello legacy"), nonce)); got != tc.blob {
			t.Errorf("FormatOnly legacy content %s", got)
		}
		// Re-wrapping a legacy vault keeps it legacy: 60 bytes, 12-byte nonce.
		if err := c.SetPassword(k, []byte("new"), 0); err != nil {
			t.Fatal(err)
		}
		if len(c.EncryptedKey) != 60 {
			t.Fatalf("legacy re-wrap: %d bytes", len(c.EncryptedKey))
		}
		data, _ := c.Marshal()
		c2, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if k2, err := c2.Unlock([]byte("new")); err != nil || k2.Hex() != mkHex {
			t.Fatalf("legacy unlock after SetPassword: %v", err)
		}
	}
}

// Keys are matched case-insensitively and unknown keys are ignored, as
// with gocryptfs (Go encoding/json).
func TestParseLenient(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testvault.Dir(t), "default", "cipher", DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	lower := map[string]any{"unknownkey": 1}
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	b, _ := json.Marshal(lower)
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.Unlock([]byte("test"))
	if err != nil || k.Hex() != testvault.MasterKey(t, "default") {
		t.Fatalf("unlock: %v", err)
	}
	if base64.StdEncoding.EncodeToString(c.ScryptObject.Salt) != m["ScryptObject"].(map[string]any)["Salt"] {
		t.Fatal("salt")
	}
}
