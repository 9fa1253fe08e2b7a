//go:build linux

package fsck_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/store/memstore"
)

// toMemstore copies the ciphertext tree at dir, xattrs included, into a
// new memstore.
func toMemstore(t *testing.T, dir string) *memstore.Store {
	t.Helper()
	s := memstore.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case rel == ".":
		case fi.IsDir():
			if err := s.Mkdir(rel, 0o700); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return s.Symlink(target, rel)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			f, err := s.OpenFile(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := f.WriteAt(b, 0); err != nil {
				return err
			}
			f.Close()
		}
		buf := make([]byte, 64*1024)
		n, err := unix.Llistxattr(p, buf)
		if err != nil {
			return err
		}
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if !strings.HasPrefix(name, "user.") {
				continue
			}
			v := make([]byte, 64*1024)
			k, err := unix.Lgetxattr(p, name, v)
			if err != nil {
				return err
			}
			if err := s.Setxattr(rel, name, v[:k], 0); err != nil {
				return err
			}
		}
		if rel != "." {
			return s.Chmod(rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func findingKeys(rep *fsck.Report) []string {
	var keys []string
	for _, f := range rep.Findings {
		keys = append(keys, f.Kind.String()+" "+f.CipherPath+" "+f.PlainPath+map[bool]string{true: " warning"}[f.Warning])
	}
	slices.Sort(keys)
	return keys
}

// TestCheckStoreMemstore: every planted damage gives the same findings
// on a memstore as on the directory, and the repairs make the memstore
// vault clean.
func TestCheckStoreMemstore(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir, cfg, key := open(t, "default")
			d.apply(t, dir)
			want := findingKeys(check(t, dir, cfg, key, nil))
			s := toMemstore(t, dir)
			rep, err := fsck.CheckStore(context.Background(), s, cfg, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := findingKeys(rep); !slices.Equal(got, want) {
				t.Fatalf("memstore: %q\ndirectory: %q", got, want)
			}
			rep, err = fsck.CheckStore(context.Background(), s, cfg, key, &fsck.Options{Repair: true})
			if err != nil {
				t.Fatal(err)
			}
			onDir := check(t, dir, cfg, key, &fsck.Options{Repair: true})
			kinds := func(r *fsck.Report) (k []string) {
				for _, a := range r.Actions {
					k = append(k, a.Kind.String()+" "+a.CipherPath+" "+a.NewPlainPath)
					if !a.Done || a.Err != nil {
						k = append(k, "failed")
					}
				}
				return k
			}
			if !slices.Equal(kinds(rep), kinds(onDir)) || rep.Unrepaired() != onDir.Unrepaired() {
				t.Fatalf("memstore repair: %q (%d left)\ndirectory repair: %q (%d left)",
					kinds(rep), rep.Unrepaired(), kinds(onDir), onDir.Unrepaired())
			}
			after, err := fsck.CheckStore(context.Background(), s, cfg, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if after.Errors() != rep.Unrepaired() {
				t.Fatalf("%d problems left, but %d errors after the repair:\n%s", rep.Unrepaired(), after.Errors(), describe(after))
			}
		})
	}
}
