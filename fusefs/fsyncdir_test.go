//go:build linux

package fusefs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sealfs/sealfs/vault"
)

// fsync(2) on directories works (it was ENOTSUP), and on files still
// goes to the file's handle.
func TestFsyncDir(t *testing.T) {
	for _, o := range []vault.Options{{}, {PlaintextNames: true}} {
		mnt, _, f := mountVault(t, o, nil)
		if err := os.MkdirAll(filepath.Join(mnt, "d/sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mnt, "d/sub/file"), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{".", "d", "d/sub", "d/sub/file"} {
			h, err := os.Open(filepath.Join(mnt, p))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Sync(); err != nil {
				t.Errorf("fsync %s: %v", p, err)
			}
			h.Close()
		}
		w, err := os.OpenFile(filepath.Join(mnt, "d/sub/file"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(" more"))
		if err := w.Sync(); err != nil {
			t.Errorf("fsync of a written file: %v", err)
		}
		w.Close()
		if got, err := f.ReadFile("d/sub/file"); err != nil || string(got) != "data more" {
			t.Errorf("after fsync the library reads %q, %v", got, err)
		}
	}
}
