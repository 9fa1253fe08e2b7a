//go:build linux

package fusefs_test

import (
	"log"
	"os"
	"os/signal"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/fusefs"
)

// Mount a vault on a directory until interrupted (FUSE; Linux only). The
// example is compiled, not run: it needs /dev/fuse and fusermount3.
func ExampleMount() {
	v, err := sealfs.Open("/path/to/cipher", []byte("password"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	srv, err := fusefs.Mount("/path/to/mountpoint", v, &fusefs.Options{})
	if err != nil {
		log.Fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	go func() {
		<-stop
		srv.Unmount()
	}()
	srv.Wait()
}
