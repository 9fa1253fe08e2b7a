//go:build linux

package fsck_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

// FuzzCheck plants arbitrary bytes as a file's ciphertext, as a .name
// file and as a diriv: Check must not fail or panic, and must report
// something. (Repair planning is left out: its file-ID search is too slow
// under fuzzing instrumentation; the repair tests cover it.)
func FuzzCheck(f *testing.F) {
	f.Add([]byte{0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add(make([]byte, 18+4128))
	f.Add([]byte("gocryptfs.longname.x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := filepath.Join(testvault.Dir(t), "default", "cipher")
		cfg, err := vault.Load(filepath.Join(src, vault.DefaultFile))
		if err != nil {
			t.Fatal(err)
		}
		key, err := vault.ParseKey(testvault.MasterKey(t, "default"))
		if err != nil {
			t.Fatal(err)
		}
		defer key.Destroy()
		dir := t.TempDir()
		for _, n := range []string{vault.DefaultFile, "gocryptfs.diriv"} {
			b, _ := os.ReadFile(filepath.Join(src, n))
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
		os.WriteFile(filepath.Join(dir, cOneByte), data, 0o644)
		long := "gocryptfs.longname.e1rHAknrxnDtfIAqDK_jRmFriMqHqFR2V-m2283c6CU"
		os.WriteFile(filepath.Join(dir, long), nil, 0o644)
		os.WriteFile(filepath.Join(dir, long+".name"), data, 0o644)
		os.Mkdir(filepath.Join(dir, cDir1), 0o755)
		os.WriteFile(filepath.Join(dir, cDir1, "gocryptfs.diriv"), data, 0o644)
		os.WriteFile(filepath.Join(dir, cDir1, "QCdBcsvibCh_rj7YWHYYkQ"), data, 0o644)
		rep, err := fsck.Check(context.Background(), dir, cfg, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && len(rep.Findings) == 0 {
			t.Fatalf("%x: no findings", data)
		}
	})
}
