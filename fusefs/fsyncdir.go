//go:build linux

package fusefs

import (
	"context"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

var _ fs.NodeFsyncer = (*node)(nil)

// Fsync is what go-fuse calls for fsync on a directory (and first for
// files). A file's handle syncs itself; without one (a directory), the
// object is opened in the vault and its ciphertext synced, so that
// fsync(2) on a directory commits the names created in it, as it does in
// gocryptfs.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := f.(fs.FileFsyncer); ok {
		return h.Fsync(ctx, flags)
	}
	n.r.touch()
	p := n.path()
	d, err := n.r.fsys.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return n.errno("fsync", p, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return n.errno("fsync", p, err)
}
