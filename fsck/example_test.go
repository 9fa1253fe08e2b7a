package fsck_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
)

// Check a vault held in a store, damage it, and repair it.
func ExampleCheckStore() {
	s := memstore.New()
	v, err := sealfs.CreateStore(s, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	if err != nil {
		log.Fatal(err)
	}
	v.WriteFile("notes.txt", []byte("some text that will be damaged"), 0o644)
	cpath, _ := v.EncryptPath("notes.txt")
	v.Close()

	cfg, _ := sealfs.ReadConfig(s)
	key, _ := cfg.Unlock([]byte("pw"))
	defer key.Destroy()

	rep, _ := fsck.CheckStore(context.Background(), s, cfg, key, nil)
	fmt.Println("findings:", len(rep.Findings))

	// Flip one byte of the file's only content block.
	f, _ := s.OpenFile(cpath, os.O_RDWR, 0)
	b := make([]byte, 1)
	f.ReadAt(b, 40)
	f.WriteAt([]byte{b[0] ^ 1}, 40)
	f.Close()

	rep, _ = fsck.CheckStore(context.Background(), s, cfg, key, &fsck.Options{Repair: true})
	for _, fd := range rep.Findings {
		fmt.Println("finding:", fd.Kind, fd.PlainPath)
	}
	for _, a := range rep.Actions {
		fmt.Println("action:", a.Kind, a.NewPlainPath, a.Lost)
	}
	rep, _ = fsck.CheckStore(context.Background(), s, cfg, key, nil)
	fmt.Println("errors after the repair:", rep.Errors())
	// Output:
	// findings: 0
	// finding: block notes.txt
	// action: mkdir lost+found []
	// action: salvage lost+found/notes.txt [0-29]
	// errors after the repair: 0
}
