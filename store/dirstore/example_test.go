package dirstore_test

import (
	"fmt"
	"log"
	"os"

	"github.com/sealfs/sealfs/store/dirstore"
)

// A Store over a local directory. Paths are relative and never leave it:
// symlinks are not followed, "../" is refused.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(dir)
	s, err := dirstore.New(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Mkdir("d", 0o755)
	f, _ := s.OpenFile("d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	f.WriteAt([]byte("ciphertext goes here"), 0)
	f.Close()
	fi, _ := s.Lstat("d/f")
	fmt.Println(fi.Size())
	s.Symlink("/etc", "d/escape")
	_, err = s.OpenFile("d/escape/passwd", os.O_RDONLY, 0)
	fmt.Println(err != nil)
	_, err = s.OpenFile("../outside", os.O_RDONLY, 0)
	fmt.Println(err != nil)
	// Output:
	// 20
	// true
	// true
}
