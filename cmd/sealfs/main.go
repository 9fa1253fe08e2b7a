package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// defaultPath is used when PATH is unset or empty, as when mount(8) runs
// sealfs through mount.fuse3 for an /etc/fstab line: fusermount3 and
// -extpass programs must still be found.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func main() {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", defaultPath)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one terminates at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
