//go:build linux

package layout_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/store/memstore"
)

func TestClassify(t *testing.T) {
	enc := layout.Format{DirIV: true}
	plain := layout.Format{PlainNames: true}
	for _, c := range []struct {
		f         layout.Format
		dir, name string
		want      layout.Kind
	}{
		{enc, ".", "gocryptfs.conf", layout.Config},
		{enc, "d", "gocryptfs.conf", layout.Entry},
		{enc, "d", "gocryptfs.diriv", layout.DirIV},
		{layout.Format{}, "d", "gocryptfs.diriv", layout.Entry},
		{enc, "d", "gocryptfs.longname.abc.name", layout.LongNameFile},
		{enc, "d", "gocryptfs.longname.abc", layout.Entry},
		{enc, "d", "gocryptfs.diriv.rmdir.123", layout.RmdirLeftover},
		{plain, ".", "gocryptfs.conf", layout.Config},
		{plain, ".", "gocryptfs.diriv", layout.Entry},
		{plain, ".", "gocryptfs.longname.abc.name", layout.Entry},
	} {
		if got := c.f.Classify(c.dir, c.name); got != c.want {
			t.Errorf("%+v %s/%s: %v, want %v", c.f, c.dir, c.name, got, c.want)
		}
		if c.f.Hidden(c.dir, c.name) != (c.want != layout.Entry) {
			t.Errorf("Hidden disagrees with Classify for %s/%s", c.dir, c.name)
		}
	}
}

func TestDirIV(t *testing.T) {
	s := memstore.New()
	if err := s.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadDirIV(s, "d"); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("missing IV: %v", err)
	}
	if _, err := layout.ReadDirIV(s, "nodir"); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("missing directory: %v", err)
	}
	iv, err := layout.WriteDirIV(s, "d", nil)
	if err != nil || len(iv) != names.DirIVSize {
		t.Fatal(err)
	}
	got, err := layout.ReadDirIV(s, "d")
	if err != nil || !bytes.Equal(got, iv) {
		t.Fatalf("read back: %x %v", got, err)
	}
	if fi, _ := s.Lstat("d/gocryptfs.diriv"); fi.Mode().Perm() != 0o444 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if _, err := layout.WriteDirIV(s, "d", nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second IV: %v", err)
	}
	for _, bad := range [][]byte{make([]byte, 16), make([]byte, 15), make([]byte, 17)} {
		s.Remove("d/gocryptfs.diriv")
		if err := layout.WriteNew(s, "d/gocryptfs.diriv", bad, false); err != nil {
			t.Fatal(err)
		}
		if _, err := layout.ReadDirIV(s, "d"); !errors.Is(err, content.ErrCorrupt) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
}

// TestFIFODoesNotBlock: a FIFO planted where an IV or a .name file
// belongs is corrupt, and reading it does not hang.
func TestFIFODoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	s, err := dirstore.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := syscall.Mkfifo(filepath.Join(dir, "gocryptfs.diriv"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadDirIV(s, "."); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("FIFO as IV: %v", err)
	}
}

func TestLongName(t *testing.T) {
	key := make([]byte, 32)
	nt, err := names.New(key, &names.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New()
	full := strings.Repeat("A", 300)
	stored := nt.HashLongName(full)
	if err := layout.WriteLongName(s, stored, full); err != nil {
		t.Fatal(err)
	}
	if got, err := layout.ReadLongName(s, nt, ".", stored); err != nil || got != full {
		t.Fatalf("read: %q %v", got, err)
	}
	if err := layout.WriteLongName(s, stored, full); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v", err)
	}
	// A content that does not hash to the name, and one that is too
	// long, are corrupt.
	other := nt.HashLongName(full + "B")
	layout.WriteNew(s, other+".name", []byte(full), false)
	if _, err := layout.ReadLongName(s, nt, ".", other); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("wrong hash: %v", err)
	}
	long := strings.Repeat("A", layout.MaxLongNameFile+1)
	h := nt.HashLongName(long)
	layout.WriteNew(s, h+".name", []byte(long), false)
	if _, err := layout.ReadLongName(s, nt, ".", h); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("too long: %v", err)
	}
}

func TestTargetsAndXattrValues(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 1
	codec, err := content.New(content.AESGCM, key)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := names.New(key, &names.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ct := layout.EncryptTarget(codec, nt, "../some/where")
	if got, err := layout.DecryptTarget(codec, nt, ct); err != nil || got != "../some/where" {
		t.Fatalf("target: %q %v", got, err)
	}
	if _, err := layout.DecryptTarget(codec, nt, ct[:len(ct)-2]+"AA"); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("damaged target: %v", err)
	}
	if _, err := layout.DecryptTarget(codec, nt, "not base64!"); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("bad base64: %v", err)
	}
	v := layout.EncryptXattrValue(codec, []byte("value"))
	if got, err := layout.DecryptXattrValue(codec, v); err != nil || string(got) != "value" {
		t.Fatalf("xattr: %q %v", got, err)
	}
	// The base64 form old gocryptfs versions wrote.
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding} {
		if got, err := layout.DecryptXattrValue(codec, []byte(enc.EncodeToString(v))); err != nil || string(got) != "value" {
			t.Fatalf("base64 xattr: %q %v", got, err)
		}
	}
	if got, err := layout.DecryptXattrValue(codec, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q %v", got, err)
	}
	v[len(v)-1] ^= 1
	if _, err := layout.DecryptXattrValue(codec, v); !errors.Is(err, content.ErrCorrupt) {
		t.Fatalf("damaged value: %v", err)
	}
}
