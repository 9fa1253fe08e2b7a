package vault_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sealfs/sealfs/vault"
)

// Make a config, store it as gocryptfs does, load it and unlock it.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "conf")
	defer os.RemoveAll(dir)
	key, err := vault.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	defer key.Destroy()
	cfg, err := vault.New(key, []byte("pw"), &vault.Options{ScryptLogN: 10})
	if err != nil {
		log.Fatal(err)
	}
	p := filepath.Join(dir, vault.DefaultFile)
	if err := cfg.WriteFile(p); err != nil {
		log.Fatal(err)
	}
	loaded, err := vault.Load(p)
	if err != nil {
		log.Fatal(err)
	}
	_, err = loaded.Unlock([]byte("wrong"))
	fmt.Println(errors.Is(err, vault.ErrWrongPassword))
	k2, err := loaded.Unlock([]byte("pw"))
	if err != nil {
		log.Fatal(err)
	}
	defer k2.Destroy()
	fmt.Println(bytes.Equal(k2.Bytes(), key.Bytes()))
	// Output:
	// true
	// true
}
