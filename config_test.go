//go:build linux

package sealfs_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
)

var fastScrypt = vault.Options{ScryptLogN: 10}

// copyStoreToDir writes the tree of store s into the host directory dir:
// files with their content and mode, directories, symlinks.
func copyStoreToDir(t *testing.T, s store.Store, dir string) {
	t.Helper()
	var walk func(p string)
	walk = func(p string) {
		d, err := s.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		des, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			cp := path.Join(p, de.Name())
			host := filepath.Join(dir, filepath.FromSlash(cp))
			fi, err := s.Lstat(cp)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case fi.IsDir():
				if err := os.Mkdir(host, 0o700); err != nil {
					t.Fatal(err)
				}
				walk(cp)
				os.Chmod(host, fi.Mode().Perm())
			case fi.Mode()&fs.ModeSymlink != 0:
				target, err := s.Readlink(cp)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, host); err != nil {
					t.Fatal(err)
				}
			default:
				f, err := s.OpenFile(cp, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(host, b, fi.Mode().Perm()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	walk(".")
}

// TestStoreHoldsWholeVault: a vault created in a store that is not a
// directory keeps its config there too; it opens again from the store
// alone, and copied to disk it is a vault sealfs and gocryptfs open.
func TestStoreHoldsWholeVault(t *testing.T) {
	s := memstore.New()
	pw := []byte(testvault.Password)
	v, err := sealfs.CreateStore(s, pw, &sealfs.CreateOptions{Options: fastScrypt})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.WriteFile("hello.txt", []byte("hello from memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir("dir", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := v.Symlink("../hello.txt", "dir/link"); err != nil {
		t.Fatal(err)
	}
	v.Close()

	fi, err := s.Lstat(vault.DefaultFile)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("config in the store: %v %v", fi, err)
	}
	if _, err := s.Lstat(vault.DefaultFile + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary config left: %v", err)
	}
	if _, err := sealfs.OpenStore(s, []byte("wrong"), nil); !errors.Is(err, vault.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	v, err = sealfs.OpenStore(s, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := v.ReadFile("dir/link"); err != nil || string(b) != "hello from memory\n" {
		t.Fatalf("read back: %q %v", b, err)
	}
	v.Close()

	dir := t.TempDir()
	copyStoreToDir(t, s, dir)
	v, err = sealfs.Open(dir, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := v.ReadFile("hello.txt"); err != nil || string(b) != "hello from memory\n" {
		t.Fatalf("from disk: %q %v", b, err)
	}
	v.Close()
	bin := testvault.RequireBinary(t, "gocryptfs", false)
	pf := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pf, append(pw, '\n'), 0o600)
	run(t, bin, "-fsck", "-q", "-passfile", pf, dir)
}

func TestCreateStoreRefusesNonEmpty(t *testing.T) {
	s := memstore.New()
	f, err := s.OpenFile("x", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := sealfs.CreateStore(s, []byte("pw"), &sealfs.CreateOptions{Options: fastScrypt}); !errors.Is(err, sealfs.ErrNotEmpty) {
		t.Fatalf("non-empty store: %v", err)
	}
	if _, err := s.Lstat(vault.DefaultFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("config written into a non-empty store")
	}
}

// TestWriteConfigAtomic: a leftover temporary file stops the write before
// the config is touched; a good write replaces it whole.
func TestWriteConfigAtomic(t *testing.T) {
	s := memstore.New()
	v, err := sealfs.CreateStore(s, []byte("pw"), &sealfs.CreateOptions{Options: fastScrypt})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	cfg, err := sealfs.ReadConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := s.OpenFile(vault.DefaultFile+".tmp", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if err := sealfs.WriteConfig(s, cfg); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("with a leftover temporary file: %v", err)
	}
	if _, err := sealfs.ReadConfig(s); err != nil {
		t.Fatalf("config damaged by a failed write: %v", err)
	}
	s.Remove(vault.DefaultFile + ".tmp")
	cfg.Creator = "rewritten"
	if err := sealfs.WriteConfig(s, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := sealfs.ReadConfig(s)
	if err != nil || got.Creator != "rewritten" {
		t.Fatalf("after rewrite: %v %v", got, err)
	}
	// A config that is not one is refused, also when it is huge.
	s.Remove(vault.DefaultFile)
	f, _ := s.OpenFile(vault.DefaultFile, os.O_RDWR|os.O_CREATE, 0o400)
	f.WriteAt([]byte("{"), 2<<20)
	f.Close()
	if _, err := sealfs.ReadConfig(s); !errors.Is(err, vault.ErrInvalidConfig) {
		t.Fatalf("huge config: %v", err)
	}
}
