//go:build linux

package fusefs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// aclUmask applies the caller's umask the way a file system with POSIX
// ACLs does, for mounts with Options.ACL. With ACLs the kernel leaves the
// umask to the file system: a new object in a directory with a default
// ACL gets its permissions from that ACL and the requested mode, and the
// umask does not apply; elsewhere the umask does. The mount asks for
// FUSE_DONT_MASK, so requests carry the unmasked mode and the umask
// beside it (go-fuse's node API drops the umask, hence this layer on the
// raw requests). The store creates the ciphertext object in a ciphertext
// directory that carries the same default ACL (ACLs are stored
// unencrypted, as gocryptfs stores them), so the backing file system
// computes the inherited ACL and mode.
type aclUmask struct {
	fuse.RawFileSystem
}

// aclDefault is the default ACL of a directory.
const aclDefault = "system.posix_acl_default"

// mask returns mode with umask applied unless the directory node has a
// default ACL.
func (a *aclUmask) mask(cancel <-chan struct{}, h *fuse.InHeader, mode, umask uint32) uint32 {
	if umask == 0 {
		return mode
	}
	hdr := fuse.InHeader{NodeId: h.NodeId, Caller: h.Caller}
	if n, st := a.RawFileSystem.GetXAttr(cancel, &hdr, aclDefault, nil); st == fuse.OK && n > 0 {
		return mode
	}
	return mode &^ umask
}

func (a *aclUmask) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	in.Mode = a.mask(cancel, &in.InHeader, in.Mode, in.Umask)
	return a.RawFileSystem.Create(cancel, in, name, out)
}

func (a *aclUmask) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	in.Mode = a.mask(cancel, &in.InHeader, in.Mode, in.Umask)
	return a.RawFileSystem.Mkdir(cancel, in, name, out)
}

func (a *aclUmask) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	in.Mode = a.mask(cancel, &in.InHeader, in.Mode, in.Umask)
	return a.RawFileSystem.Mknod(cancel, in, name, out)
}
