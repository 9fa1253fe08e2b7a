//go:build linux

// Command buildweed builds the SeaweedFS binary the S3 tests use into the
// user's cache directory (once; later runs find it there) and prints its
// path. test.sh runs it before go test.
package main

import (
	"fmt"
	"os"

	"github.com/sealfs/sealfs/internal/testweed"
)

func main() {
	p, err := testweed.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildweed:", err)
		os.Exit(1)
	}
	fmt.Println(p)
}
