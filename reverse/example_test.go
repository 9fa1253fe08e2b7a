package reverse_test

import (
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/vault"
)

// An encrypted view of a plaintext directory (gocryptfs -reverse): what a
// backup tool would copy. The view is an io/fs.FS; nothing is written.
func ExampleNew() {
	plain, _ := os.MkdirTemp("", "plain")
	defer os.RemoveAll(plain)
	os.WriteFile(filepath.Join(plain, "diary.txt"), []byte("dear diary"), 0o644)

	key, err := vault.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	defer key.Destroy()
	// Reverse mode uses AES-SIV: the same plaintext gives the same view.
	cfg, err := vault.New(key, []byte("pw"), &vault.Options{Suite: content.AESSIV, ScryptLogN: 10})
	if err != nil {
		log.Fatal(err)
	}
	view, err := reverse.New(os.DirFS(plain), cfg, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	enc, _ := view.EncryptPath("diary.txt")
	fi, _ := fs.Stat(view, enc)
	fmt.Println("ciphertext size:", fi.Size())
	dec, _ := view.DecryptPath(enc)
	fmt.Println("decrypts to:", dec)
	// Output:
	// ciphertext size: 60
	// decrypts to: diary.txt
}
