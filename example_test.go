package sealfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
)

// Create a vault, write a file into it, and read it back.
func ExampleCreate() {
	dir, _ := os.MkdirTemp("", "vault")
	defer os.RemoveAll(dir)

	// ScryptLogN 10 keeps the example fast; real vaults use the default (16).
	v, err := sealfs.Create(dir, []byte("my password"), &sealfs.CreateOptions{
		Options: vault.Options{ScryptLogN: 10},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	if err := v.WriteFile("hello.txt", []byte("hello, world\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	b, err := v.ReadFile("hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
	// Output: hello, world
}

// Open an existing vault and walk it with io/fs.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "vault")
	defer os.RemoveAll(dir)
	v, _ := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	v.MkdirAll("docs/2026", 0o755)
	v.WriteFile("docs/2026/notes.txt", []byte("secret"), 0o600)
	v.Close()

	v, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		fmt.Println(p)
		return err
	})
	// Output:
	// .
	// docs
	// docs/2026
	// docs/2026/notes.txt
}

// Random-access writes and reads through a File.
func ExampleFS_OpenFile() {
	dir, _ := os.MkdirTemp("", "vault")
	defer os.RemoveAll(dir)
	v, _ := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	defer v.Close()

	f, err := v.OpenFile("data.bin", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	f.WriteAt([]byte("world"), 6)
	f.WriteAt([]byte("hello"), 0)
	buf := make([]byte, 11)
	f.ReadAt(buf, 0)
	fmt.Printf("%q\n", buf)
	// Output: "hello\x00world"
}

// A whole vault, config included, in a Store that is not a directory:
// here memory. CreateStore writes gocryptfs.conf into the store;
// OpenStore reads it back.
func ExampleCreateStore() {
	s := memstore.New()
	v, err := sealfs.CreateStore(s, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	if err != nil {
		log.Fatal(err)
	}
	v.WriteFile("in-memory.txt", []byte("no disk involved\n"), 0o644)
	v.Close()

	v, err = sealfs.OpenStore(s, []byte("pw"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	b, _ := v.ReadFile("in-memory.txt")
	fmt.Print(string(b))
	// Output: no disk involved
}

// A wrong password is told apart with errors.Is.
func ExampleOpenStore_wrongPassword() {
	s := memstore.New()
	v, _ := sealfs.CreateStore(s, []byte("right"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	v.Close()
	_, err := sealfs.OpenStore(s, []byte("wrong"), nil)
	fmt.Println(errors.Is(err, vault.ErrWrongPassword))
	// Output: true
}

// New opens a vault whose config and key the caller already has, on any
// Store: here a local directory through store/dirstore.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "vault")
	defer os.RemoveAll(dir)
	v, _ := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	v.WriteFile("a.txt", []byte("via New\n"), 0o644)
	v.Close()

	cfg, err := vault.Load(filepath.Join(dir, vault.DefaultFile))
	if err != nil {
		log.Fatal(err)
	}
	key, err := cfg.Unlock([]byte("pw"))
	if err != nil {
		log.Fatal(err)
	}
	defer key.Destroy()
	s, err := dirstore.New(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	v, err = sealfs.New(s, cfg, key, &sealfs.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	b, _ := v.ReadFile("a.txt")
	fmt.Print(string(b))
	// Output: via New
}
