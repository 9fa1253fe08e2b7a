//go:build linux

package transport

import (
	"slices"
	"testing"
)

func TestCPUCount(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{{"0\n", 1}, {"0-1\n", 2}, {"0-3,8-11", 12}, {"0,2,5", 6}} {
		if got, err := cpuCount(c.in); err != nil || got != c.want {
			t.Errorf("cpuCount(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "0-", "1-y", "-1"} {
		if n, err := cpuCount(bad); err == nil {
			t.Errorf("cpuCount(%q) = %d, want an error", bad, n)
		}
	}
}

func TestNames(t *testing.T) {
	got, ok := names([]byte("old\x00new\x00trailing"), 2)
	if !ok || !slices.Equal(got, []string{"old", "new"}) {
		t.Fatalf("names = %q, %v", got, ok)
	}
	if _, ok := names([]byte("unterminated"), 1); ok {
		t.Fatal("a name without its NUL was accepted")
	}
	if _, ok := names([]byte("one\x00"), 2); ok {
		t.Fatal("one name was taken for two")
	}
}

// TestOpInSize: the request structs after fuse_in_header, as
// include/uapi/linux/fuse.h defines them (protocol 7.28 and later).
func TestOpInSize(t *testing.T) {
	for op, want := range map[uint32]int{
		opLookup: 0, opGetattr: 16, opSetattr: 88, opReadlink: 0, opSymlink: 0,
		opMknod: 16, opMkdir: 8, opUnlink: 0, opRmdir: 0, opRename: 8, opLink: 8,
		opOpen: 8, opRead: 40, opWrite: 40, opStatfs: 0, opRelease: 24, opFsync: 16,
		opSetxattr: 8, opGetxattr: 8, opListxattr: 8, opRemovexattr: 0, opFlush: 24,
		opOpendir: 8, opReaddir: 40, opReleasedir: 24, opFsyncdir: 16, opGetlk: 48,
		opSetlk: 48, opSetlkw: 48, opAccess: 8, opCreate: 16, opDestroy: 0, opIoctl: 32,
		opFallocate: 32, opReaddirplus: 40, opRename2: 16, opLseek: 24,
		opCopyFileRange: 56, opTmpfile: 16, opStatx: 24,
		opInit: -1, opBmap: -1, opPoll: -1,
	} {
		if got := opInSize[op]; got != want {
			t.Errorf("opcode %d: %d bytes, want %d", op, got, want)
		}
	}
}
