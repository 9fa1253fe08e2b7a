package names

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sealfs/sealfs/internal/testvault"
	"golang.org/x/crypto/hkdf"
)

// goldenVault describes where a golden vault keeps its config and its
// ciphertext tree.
type goldenVault struct {
	name, conf, cipher string
}

func goldenVaults(t *testing.T) []goldenVault {
	dir := testvault.Dir(t)
	var vs []goldenVault
	for _, v := range testvault.Forward {
		vs = append(vs, goldenVault{v, filepath.Join(dir, v, "cipher", ConfigFile), filepath.Join(dir, v, "cipher")})
	}
	for _, v := range testvault.Reverse {
		vs = append(vs, goldenVault{v, filepath.Join(dir, v, "plain", ".gocryptfs.reverse.conf"), filepath.Join(dir, v, "cipher-view")})
	}
	return vs
}

// goldenTransform builds the name transform of a golden vault directly from
// its config and master key (HKDF, §4.1), independently of package vault.
func goldenTransform(t *testing.T, v goldenVault) (tr *Transform, plainNames, dirIV bool) {
	data, err := os.ReadFile(v.conf)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		FeatureFlags []string
		LongNameMax  int
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(conf.FeatureFlags, "HKDF") {
		t.Fatalf("%s: golden vault without HKDF", v.name)
	}
	mk := mustHex(t, testvault.MasterKey(t, v.name))
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, mk, nil, []byte("EME filename encryption")), key); err != nil {
		t.Fatal(err)
	}
	tr, err = New(key, &Options{Raw64: slices.Contains(conf.FeatureFlags, "Raw64"), LongNameMax: conf.LongNameMax})
	if err != nil {
		t.Fatal(err)
	}
	return tr, slices.Contains(conf.FeatureFlags, "PlaintextNames"), slices.Contains(conf.FeatureFlags, "DirIV")
}

func readDirIV(t *testing.T, v goldenVault, cdir string, useDirIV bool) []byte {
	if !useDirIV {
		return make([]byte, DirIVSize)
	}
	iv, err := os.ReadFile(filepath.Join(v.cipher, filepath.FromSlash(cdir), DirIVFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(iv) != DirIVSize {
		t.Fatalf("%s/%s: diriv of %d bytes", v.name, cdir, len(iv))
	}
	return iv
}

// Every path of every golden vault's control-socket map encrypts,
// component by component, to exactly the recorded ciphertext path (long
// names hashed, with the full name in the .name file) and decrypts back.
func TestGoldenCipherMaps(t *testing.T) {
	for _, v := range goldenVaults(t) {
		t.Run(v.name, func(t *testing.T) {
			tr, plainNames, useDirIV := goldenTransform(t, v)
			m := testvault.CipherMap(t, v.name)
			if len(m) < 10 {
				t.Fatalf("only %d map entries", len(m))
			}
			longSeen := 0
			for _, e := range m {
				if e.Decrypted != e.Plain {
					t.Fatalf("map entry decrypts to %q, not %q", e.Decrypted, e.Plain)
				}
				pc, cc := strings.Split(e.Plain, "/"), strings.Split(e.Cipher, "/")
				if len(pc) != len(cc) {
					t.Fatalf("%q -> %q: component counts differ", e.Plain, e.Cipher)
				}
				if plainNames {
					if e.Cipher != e.Plain {
						t.Fatalf("plaintext-names vault maps %q to %q", e.Plain, e.Cipher)
					}
					continue
				}
				for i := range pc {
					parent := path.Join(cc[:i]...)
					iv := readDirIV(t, v, parent, useDirIV)
					full, err := tr.EncryptName(pc[i], iv)
					if err != nil {
						t.Fatalf("EncryptName(%q): %v", pc[i], err)
					}
					stored, long := tr.Shorten(full)
					if stored != cc[i] {
						t.Fatalf("%q in %q: stored as %q, gocryptfs has %q", pc[i], parent, stored, cc[i])
					}
					if long {
						longSeen++
						nf, err := os.ReadFile(filepath.Join(v.cipher, filepath.FromSlash(parent), stored+LongNameSuffix))
						if err != nil {
							t.Fatal(err)
						}
						if string(nf) != full {
							t.Fatalf("%s.name holds %q, want %q", stored, nf, full)
						}
					}
					if IsLongName(stored) != long || IsLongNameFile(stored) {
						t.Fatalf("long-name predicates wrong for %q", stored)
					}
					back, err := tr.DecryptName(full, iv)
					if err != nil || back != pc[i] {
						t.Fatalf("DecryptName(%q) = %q, %v; want %q", full, back, err, pc[i])
					}
				}
			}
			if v.name != "reverse-deterministic-names" && v.name != "reverse-plaintextnames" && !plainNames && longSeen == 0 {
				t.Error("no long name exercised")
			}
		})
	}
}

// Every ciphertext name in the forward golden vaults decrypts (apart from
// the config, diriv and .name files), hashed ones through their .name file.
func TestGoldenListingsDecrypt(t *testing.T) {
	for _, v := range goldenVaults(t)[:len(testvault.Forward)] {
		t.Run(v.name, func(t *testing.T) {
			tr, plainNames, useDirIV := goldenTransform(t, v)
			if plainNames {
				return
			}
			n := 0
			for _, e := range testvault.Listing(t, v.name) {
				dir, stored := path.Split(e.Path)
				dir = strings.TrimSuffix(dir, "/")
				if stored == ConfigFile && dir == "" || stored == DirIVFile || IsLongNameFile(stored) {
					continue
				}
				full := stored
				if IsLongName(stored) {
					b, err := os.ReadFile(filepath.Join(v.cipher, filepath.FromSlash(e.Path)+LongNameSuffix))
					if err != nil {
						t.Fatal(err)
					}
					full = string(b)
					if h, long := tr.Shorten(full); !long || h != stored {
						t.Fatalf("%s: .name content hashes to %q", e.Path, h)
					}
				}
				if _, err := tr.DecryptName(full, readDirIV(t, v, dir, useDirIV)); err != nil {
					t.Fatalf("%s: %v", e.Path, err)
				}
				n++
			}
			if n < 10 {
				t.Fatalf("only %d names checked", n)
			}
		})
	}
}

// The encrypted xattr names on the ciphertext objects are exactly the
// encryptions of the plaintext names in the manifest, and decrypt back.
func TestGoldenXattrNames(t *testing.T) {
	for _, v := range goldenVaults(t)[:len(testvault.Forward)] {
		t.Run(v.name, func(t *testing.T) {
			tr, _, _ := goldenTransform(t, v)
			cipherOf := map[string]string{}
			for _, e := range testvault.CipherMap(t, v.name) {
				cipherOf[e.Plain] = e.Cipher
			}
			listing := map[string]testvault.Entry{}
			for _, e := range testvault.Listing(t, v.name) {
				listing[e.Path] = e
			}
			n := 0
			for _, e := range testvault.Manifest(t, v.name) {
				if len(e.Xattrs) == 0 {
					continue
				}
				ce, ok := listing[cipherOf[e.Path]]
				if !ok {
					t.Fatalf("%s: no ciphertext entry", e.Path)
				}
				var want, got []string
				for name := range e.Xattrs {
					c, err := tr.EncryptXattrName(name)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := ce.Xattrs[c]; !ok {
						t.Fatalf("%s: xattr %q encrypts to %q, not on the ciphertext (%v)", e.Path, name, c, ce.Xattrs)
					}
					want = append(want, name)
					n++
				}
				for c := range ce.Xattrs {
					p, err := tr.DecryptXattrName(c)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, p)
				}
				sort.Strings(want)
				sort.Strings(got)
				if !slices.Equal(want, got) {
					t.Fatalf("%s: xattrs %v decrypt to %v", e.Path, want, got)
				}
			}
			if n == 0 {
				t.Fatal("no xattrs checked")
			}
		})
	}
}
