package sealfs_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/sealfs/sealfs"
)

// TestBase64XattrValue: old gocryptfs versions stored xattr values
// base64-encoded (URL-safe, as names); gocryptfs still reads them, and so
// does sealfs. A value that decodes but does not authenticate is still
// corrupt.
func TestBase64XattrValue(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.WriteFile("x", nil, 0o644))
		must(t, f.Setxattr("x", "user.a", []byte("old style value"), 0))
		xs := f.Store().(sealfs.XattrStore)
		cname, err := f.EncryptPath("x")
		must(t, err)
		stored, err := xs.Listxattr(cname)
		must(t, err)
		if len(stored) != 1 {
			t.Fatalf("stored attributes: %v", stored)
		}
		raw, err := xs.Getxattr(cname, stored[0])
		must(t, err)
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding} {
			must(t, xs.Setxattr(cname, stored[0], []byte(enc.EncodeToString(raw)), 0))
			v, err := f.Getxattr("x", "user.a")
			if err != nil || string(v) != "old style value" {
				t.Fatalf("base64-encoded value: %q, %v", v, err)
			}
		}
		raw[len(raw)-1] ^= 1
		must(t, xs.Setxattr(cname, stored[0], []byte(base64.RawURLEncoding.EncodeToString(raw)), 0))
		if _, err := f.Getxattr("x", "user.a"); !errors.Is(err, sealfs.ErrCorrupt) {
			t.Fatalf("tampered base64 value: %v", err)
		}
	})
}
