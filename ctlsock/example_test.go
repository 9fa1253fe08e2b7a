package ctlsock_test

import (
	"fmt"
	"log"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/ctlsock"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
)

// Answer a gocryptfs control-socket request (what gocryptfs-xray
// -decrypt-paths sends) for a vault. Serve does the same for every
// connection on a listener.
func ExampleHandle() {
	v, err := sealfs.CreateStore(memstore.New(), []byte("pw"), &sealfs.CreateOptions{
		Options: vault.Options{PlaintextNames: true, ScryptLogN: 10},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	r := ctlsock.Handle(v, []byte(`{"EncryptPath":"dir/file.txt"}`))
	fmt.Printf("%q %d\n", r.Result, r.ErrNo)
	r = ctlsock.Handle(v, []byte(`{"Bogus":1}`))
	fmt.Println(r.ErrNo != 0)
	// Output:
	// "dir/file.txt" 0
	// true
}
