package sealfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

func xattrsOf(f *sealfs.FS) testvault.Xattrs {
	return func(p string) (map[string][]byte, error) {
		names, err := f.Listxattr(p)
		if err != nil {
			return nil, err
		}
		m := map[string][]byte{}
		for _, n := range names {
			v, err := f.Getxattr(p, n)
			if err != nil {
				return nil, err
			}
			m[n] = v
		}
		return m, nil
	}
}

// Every golden forward vault opens with the password and with its master
// key, and reads back exactly as its manifest says.
func TestGoldenForwardVaults(t *testing.T) {
	for _, name := range testvault.Forward {
		t.Run(name, func(t *testing.T) {
			dir := testvault.Copy(t, name)
			var corrupt []string
			f, err := sealfs.Open(dir, []byte(testvault.Password), &sealfs.Options{
				ReadOnly:  true,
				OnCorrupt: func(p string, err error) { corrupt = append(corrupt, p+": "+err.Error()) },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			testvault.CompareTree(t, f, testvault.Manifest(t, name), xattrsOf(f))
			if len(corrupt) > 0 {
				t.Errorf("corruption reported on a clean vault: %v", corrupt)
			}

			key, err := vault.ParseKey(testvault.MasterKey(t, name))
			if err != nil {
				t.Fatal(err)
			}
			fk, err := sealfs.Open(dir, nil, &sealfs.Options{ReadOnly: true, MasterKey: key})
			if err != nil {
				t.Fatal(err)
			}
			defer fk.Close()
			testvault.CompareTree(t, fk, testvault.Manifest(t, name), nil)
		})
	}
}

// The reverse views in the golden data are ordinary vaults when copied:
// a forward open decrypts them to their plaintext.
func TestGoldenReverseViewsDecrypt(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			dir := testvault.Copy(t, name)
			f, err := sealfs.Open(dir, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			testvault.CompareTree(t, f, testvault.Manifest(t, name), nil)
		})
	}
}

// The path mapping equals what the gocryptfs control socket returned.
func TestGoldenCipherMap(t *testing.T) {
	for _, name := range testvault.Forward {
		t.Run(name, func(t *testing.T) {
			dir := testvault.Copy(t, name)
			f, err := sealfs.Open(dir, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, e := range testvault.CipherMap(t, name) {
				c, err := f.EncryptPath(e.Plain)
				if err != nil || c != e.Cipher {
					t.Errorf("EncryptPath(%q) = %q, %v; want %q", e.Plain, c, err, e.Cipher)
				}
				p, err := f.DecryptPath(e.Cipher)
				if err != nil || p != e.Decrypted {
					t.Errorf("DecryptPath(%q) = %q, %v; want %q", e.Cipher, p, err, e.Decrypted)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := testvault.Copy(t, "default")
	if _, err := sealfs.Open(dir, []byte("wrong"), nil); !errors.Is(err, vault.ErrWrongPassword) {
		t.Errorf("wrong password: %v, want ErrWrongPassword", err)
	}
	if _, err := sealfs.Open(t.TempDir(), []byte("test"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing config: %v, want ErrNotExist", err)
	}
	if _, err := sealfs.Open(filepath.Join(dir, "nope"), []byte("test"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v, want ErrNotExist", err)
	}
	// A garbled config is an error, and nothing is written.
	cfg := filepath.Join(dir, "gocryptfs.conf")
	orig, _ := os.ReadFile(cfg)
	os.Chmod(cfg, 0o600)
	os.WriteFile(cfg, []byte(strings.Replace(string(orig), "\"Version\": 2", "\"Version\": 3", 1)), 0o600)
	if _, err := sealfs.Open(dir, []byte("test"), nil); !errors.Is(err, vault.ErrUnsupportedVersion) {
		t.Errorf("version 3: %v", err)
	}
	os.WriteFile(cfg, orig[:len(orig)/2], 0o600)
	if _, err := sealfs.Open(dir, []byte("test"), nil); err == nil {
		t.Error("truncated config opened")
	}
}
