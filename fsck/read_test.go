package fsck_test

import (
	"crypto/sha256"
	"io/fs"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

// readAll opens the vault through the sealfs library and returns the
// SHA-256 of every file it can read completely, by plaintext path.
// Directories and files that fail are left out.
func readAll(t *testing.T, dir string, _ *vault.Config, key *vault.Key) map[string][32]byte {
	t.Helper()
	v := openReadOnly(t, dir, key)
	defer v.Close()
	out := map[string][32]byte{}
	fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(v, p)
		if err == nil {
			out[p] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

// openReadOnly opens the vault in dir read-only with a copy of key.
func openReadOnly(t *testing.T, dir string, key *vault.Key) *sealfs.FS {
	t.Helper()
	k, err := vault.KeyFromBytes(key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Destroy()
	v, err := sealfs.Open(dir, nil, &sealfs.Options{ReadOnly: true, MasterKey: k})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
