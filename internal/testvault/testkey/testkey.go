// Package testkey unlocks the configs of golden vaults for tests. It is
// apart from testvault because vault's own tests import testvault.
package testkey

import (
	"path/filepath"
	"testing"

	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

// Reverse loads the reverse config in plainDir (a copy of a golden
// reverse vault's plain/ directory) and unlocks it with the golden
// password. The key is destroyed when the test ends.
func Reverse(t testing.TB, plainDir string) (*vault.Config, *vault.Key) {
	t.Helper()
	cfg, err := vault.Load(filepath.Join(plainDir, vault.ReverseFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := cfg.Unlock([]byte(testvault.Password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(key.Destroy)
	return cfg, key
}
