//go:build linux

package sealfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/vault"
)

func flipByte(t *testing.T, file string, off int64) {
	t.Helper()
	os.Chmod(file, 0o644)
	h, err := os.OpenFile(file, os.O_RDWR, 0)
	must(t, err)
	defer h.Close()
	b := make([]byte, 1)
	_, err = h.ReadAt(b, off)
	must(t, err)
	b[0] ^= 0x40
	_, err = h.WriteAt(b, off)
	must(t, err)
}

type corruptLog struct {
	mu    sync.Mutex
	paths []string
}

func (c *corruptLog) add(p string, err error) {
	c.mu.Lock()
	c.paths = append(c.paths, p+": "+err.Error())
	c.mu.Unlock()
}

// Tampered ciphertext is detected and reported, never returned as data.
func TestTamperDetection(t *testing.T) {
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			f, dir := newVault(t, fm.opts)
			data := pattern(3*4096+100, 7)
			must(t, f.WriteFile("file", data, 0o644))
			must(t, f.Mkdir("sub", 0o755))
			must(t, f.WriteFile("sub/victim", []byte("v"), 0o644))
			must(t, f.Symlink("target", "link"))
			must(t, f.Setxattr("file", "user.x", []byte("xattr value"), 0))
			cfile, _ := f.EncryptPath("file")
			csub, _ := f.EncryptPath("sub")
			cvictim, _ := f.EncryptPath("sub/victim")
			f.Close()

			reopen := func() (*sealfs.FS, *corruptLog) {
				log := &corruptLog{}
				g, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{OnCorrupt: log.add})
				must(t, err)
				t.Cleanup(func() { g.Close() })
				return g, log
			}

			// A flipped byte in block 1 fails the read that touches it, with
			// an error naming the file and the offset.
			path := filepath.Join(dir, cfile)
			cbs := int64(4096 + 32)
			if fm.opts.Suite == content.XChaCha20Poly1305 {
				cbs = 4096 + 40
			}
			flipByte(t, path, 18+cbs+100)
			g, _ := reopen()
			h, err := g.Open("file")
			must(t, err)
			buf := make([]byte, 4096)
			if _, err := h.(*sealfs.File).ReadAt(buf, 0); err != nil {
				t.Fatalf("block 0 should still read: %v", err)
			}
			_, err = h.(*sealfs.File).ReadAt(buf, 4096)
			var ce *sealfs.CorruptError
			if !errors.Is(err, sealfs.ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != 4096 || !strings.Contains(err.Error(), "file") {
				t.Fatalf("tampered block: %v", err)
			}
			h.Close()
			if _, err := g.ReadFile("file"); !errors.Is(err, sealfs.ErrCorrupt) {
				t.Fatalf("ReadFile of tampered file: %v", err)
			}
			flipByte(t, path, 18+cbs+100) // restore

			// A flipped header byte.
			flipByte(t, path, 5)
			if _, err := g.ReadFile("file"); !errors.Is(err, sealfs.ErrCorrupt) {
				t.Fatalf("tampered header: %v", err)
			}
			flipByte(t, path, 5)
			if got, err := g.ReadFile("file"); err != nil || string(got) != string(data) {
				t.Fatalf("restored file: %v", err)
			}

			// A tampered xattr value.
			xs := g.Store().(sealfs.XattrStore)
			attrs, err := xs.Listxattr(cfile)
			must(t, err)
			v, _ := xs.Getxattr(cfile, attrs[0])
			v[len(v)-1] ^= 1
			must(t, xs.Setxattr(cfile, attrs[0], v, 0))
			if _, err := g.Getxattr("file", "user.x"); !errors.Is(err, sealfs.ErrCorrupt) {
				t.Fatalf("tampered xattr: %v", err)
			}

			if fm.opts.PlaintextNames {
				return
			}
			// A tampered symlink target.
			clink, _ := g.EncryptPath("link")
			ct, _ := os.Readlink(filepath.Join(dir, clink))
			os.Remove(filepath.Join(dir, clink))
			// (A character in the middle, always a different one: "AA"
			// for the last two left the bytes as they were when those
			// already encoded zero bits.)
			must(t, os.Symlink(changeChar(ct, len(ct)/2), filepath.Join(dir, clink)))
			if _, err := g.ReadLink("link"); !errors.Is(err, sealfs.ErrCorrupt) {
				t.Fatalf("tampered symlink: %v", err)
			}

			// A tampered name: the entry is left out and reported. EME
			// names carry no authentication: a changed name decrypts to
			// noise, which the padding check rejects except about once
			// in 256 changes; take the first change (one character,
			// from the front) that does not happen to decrypt.
			bad := filepath.Join(dir, cvictim)
			vname := filepath.Base(cvictim)
			renamed := ""
			for i := range len(vname) {
				c := changeChar(vname, i)
				if _, err := g.DecryptPath(csub + "/" + c); err != nil {
					renamed = filepath.Join(dir, csub, c)
					break
				}
			}
			if renamed == "" {
				t.Fatal("the name decrypts with any one character changed")
			}
			must(t, os.Rename(bad, renamed))
			g2, log := reopen()
			ents, err := g2.ReadDir("sub")
			must(t, err)
			if len(ents) != 0 || len(log.paths) == 0 {
				t.Fatalf("tampered name: entries %v, reports %v", ents, log.paths)
			}
			must(t, os.Rename(renamed, bad))

			// A tampered directory IV makes the names undecryptable.
			if fm.opts.DeterministicNames {
				return
			}
			// (As with a changed name, the name may by chance still
			// decrypt under the changed IV: then another byte is changed.)
			diriv := filepath.Join(dir, csub, "gocryptfs.diriv")
			var g3 *sealfs.FS
			for off := int64(0); ; off++ {
				if off == 16 {
					t.Fatal("the name decrypts under every changed directory IV")
				}
				flipByte(t, diriv, off)
				g3, log = reopen()
				if _, err := g3.DecryptPath(cvictim); err != nil {
					break
				}
				flipByte(t, diriv, off)
			}
			ents, err = g3.ReadDir("sub")
			if err == nil && (len(ents) != 0 || len(log.paths) == 0) {
				t.Fatalf("tampered diriv: entries %v reports %v", ents, log.paths)
			}
			if _, err := g3.ReadFile("sub/victim"); err == nil {
				t.Fatal("file read through a tampered diriv")
			}
		})
	}
}

// A damaged config is refused without anything being written.
func TestTamperedConfig(t *testing.T) {
	_, dir := newVault(t, vault.Options{})
	cfg := filepath.Join(dir, "gocryptfs.conf")
	orig, _ := os.ReadFile(cfg)
	// Flip a character of the encrypted key.
	i := strings.Index(string(orig), "EncryptedKey") + 20
	mod := []byte(string(orig))
	if mod[i] == 'A' {
		mod[i] = 'B'
	} else {
		mod[i] = 'A'
	}
	os.Chmod(cfg, 0o600)
	must(t, os.WriteFile(cfg, mod, 0o600))
	if _, err := sealfs.Open(dir, []byte("pw"), nil); !errors.Is(err, vault.ErrWrongPassword) {
		t.Fatalf("tampered key: %v", err)
	}
	now, _ := os.ReadFile(cfg)
	if string(now) != string(mod) {
		t.Fatal("config was rewritten")
	}
	// A header-only file reads as empty; a 1..17-byte file is corrupt.
	must(t, os.WriteFile(cfg, orig, 0o400))
	f, err := sealfs.Open(dir, []byte("pw"), nil)
	must(t, err)
	defer f.Close()
	must(t, f.WriteFile("h", []byte("x"), 0o644))
	ch, _ := f.EncryptPath("h")
	must(t, os.Truncate(filepath.Join(dir, ch), 18))
	if b, err := f.ReadFile("h"); err != nil || len(b) != 0 {
		t.Fatalf("header-only file: %q %v", b, err)
	}
	must(t, os.Truncate(filepath.Join(dir, ch), 10))
	if _, err := f.ReadFile("h"); !errors.Is(err, sealfs.ErrCorrupt) {
		t.Fatalf("truncated header: %v", err)
	}
	if _, err := f.Stat("h"); err != nil {
		t.Fatalf("stat of a truncated file must still work: %v", err)
	}
	var pe *fs.PathError
	_, err = f.ReadFile("h")
	if !errors.As(err, &pe) || pe.Path != "h" {
		t.Fatalf("corrupt error does not name the plaintext path: %v", err)
	}
}

// changeChar returns s with its i-th character replaced by another
// character of the base64url alphabet.
func changeChar(s string, i int) string {
	c := byte('Q')
	if s[i] == c {
		c = 'R'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestFIFOAsDirIV: a FIFO planted in the ciphertext as a directory IV
// makes the directory corrupt; it must not hang the FS.
func TestFIFOAsDirIV(t *testing.T) {
	dir := t.TempDir()
	pw := []byte("pw")
	v, err := sealfs.Create(dir, pw, &sealfs.CreateOptions{Options: fastScrypt})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	v.Close()
	des, _ := os.ReadDir(dir)
	var cdir string
	for _, de := range des {
		if de.IsDir() {
			cdir = de.Name()
		}
	}
	iv := filepath.Join(dir, cdir, "gocryptfs.diriv")
	os.Remove(iv)
	if err := syscall.Mkfifo(iv, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err = sealfs.Open(dir, pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	done := make(chan error, 1)
	go func() {
		_, err := v.ReadDir("d")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, sealfs.ErrCorrupt) {
			t.Fatalf("ReadDir: %v, want ErrCorrupt", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadDir hangs on a FIFO as the directory IV")
	}
}
