//go:build linux

package transport

import (
	"testing"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// TestPollHackNoFlush: the mount check file is opened by the server
// itself; its open must not ask for a FLUSH at close, or a server killed
// while it is open hangs in exit waiting for itself.
func TestPollHackNoFlush(t *testing.T) {
	st, out := pollHack(opOpen)
	if st != fuse.OK || len(out) < int(unsafe.Sizeof(fuse.OpenOut{})) {
		t.Fatalf("open: %v, %d bytes", st, len(out))
	}
	o := (*fuse.OpenOut)(unsafe.Pointer(&out[0]))
	if o.OpenFlags&fuse.FOPEN_NOFLUSH == 0 {
		t.Errorf("open flags %#x lack FOPEN_NOFLUSH", o.OpenFlags)
	}
	if st, _ := pollHack(opPoll); st != fuse.ENOSYS {
		t.Errorf("poll: %v", st)
	}
}
