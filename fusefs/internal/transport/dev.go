//go:build linux

package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The /dev/fuse transport: requests read from the device and answered
// with writev, through the same dispatcher as the ring.
//
// go-fuse keeps two or more threads blocked in read(2) on the device; the
// kernel wakes the one that has waited longest, so consecutive requests go
// to different threads, each of which must then get a Go P back. Here at
// most one goroutine is in read(2) at a time: it hands the reading over to
// a waiting goroutine (started when none is waiting) before it serves what
// it read, and the goroutine that takes over runs on the thread that has
// just replied. A client that waits for each reply (random reads at queue
// depth 1) so finds the same thread ready on every request.

// opInSize is the size of each opcode's request struct after the
// fuse_in_header, as the kernel sends it on /dev/fuse (the ring splits it
// off itself); -1 for opcodes this transport does not serve.
var opInSize = func() [64]int {
	var t [64]int
	for i := range t {
		t[i] = -1
	}
	sz := func(s uintptr) int { return int(s) - inHeaderSize }
	for _, op := range []uint32{opLookup, opReadlink, opSymlink, opUnlink, opRmdir, opStatfs, opRemovexattr, opDestroy} {
		t[op] = 0
	}
	t[opGetattr] = sz(unsafe.Sizeof(fuse.GetAttrIn{}))
	t[opSetattr] = sz(unsafe.Sizeof(fuse.SetAttrIn{}))
	t[opMknod] = sz(unsafe.Sizeof(fuse.MknodIn{}))
	t[opMkdir] = sz(unsafe.Sizeof(fuse.MkdirIn{}))
	t[opRename] = 8 // fuse_rename_in: newdir only
	t[opRename2] = sz(unsafe.Sizeof(fuse.RenameIn{}))
	t[opLink] = sz(unsafe.Sizeof(fuse.LinkIn{}))
	t[opOpen] = sz(unsafe.Sizeof(fuse.OpenIn{}))
	t[opOpendir] = t[opOpen]
	t[opRead] = sz(unsafe.Sizeof(fuse.ReadIn{}))
	t[opReaddir] = t[opRead]
	t[opReaddirplus] = t[opRead]
	t[opWrite] = sz(unsafe.Sizeof(fuse.WriteIn{}))
	t[opRelease] = sz(unsafe.Sizeof(fuse.ReleaseIn{}))
	t[opReleasedir] = t[opRelease]
	t[opFsync] = sz(unsafe.Sizeof(fuse.FsyncIn{}))
	t[opFsyncdir] = t[opFsync]
	t[opSetxattr] = 8 // fuse_setxattr_in without FUSE_SETXATTR_EXT, which go-fuse does not ask for
	t[opGetxattr] = sz(unsafe.Sizeof(fuse.GetXAttrIn{}))
	t[opListxattr] = t[opGetxattr]
	t[opFlush] = sz(unsafe.Sizeof(fuse.FlushIn{}))
	t[opGetlk] = sz(unsafe.Sizeof(fuse.LkIn{}))
	t[opSetlk] = t[opGetlk]
	t[opSetlkw] = t[opGetlk]
	t[opAccess] = sz(unsafe.Sizeof(fuse.AccessIn{}))
	t[opCreate] = sz(unsafe.Sizeof(fuse.CreateIn{}))
	t[opTmpfile] = t[opCreate]
	t[opIoctl] = sz(unsafe.Sizeof(fuse.IoctlIn{}))
	t[opFallocate] = sz(unsafe.Sizeof(fuse.FallocateIn{}))
	t[opLseek] = sz(unsafe.Sizeof(fuse.LseekIn{}))
	t[opCopyFileRange] = sz(unsafe.Sizeof(fuse.CopyFileRangeIn{}))
	t[opStatx] = sz(unsafe.Sizeof(fuse.StatxIn{}))
	return t
}()

// DevConfig sizes ServeDev.
type DevConfig struct {
	// Payload is the largest request or reply payload of the connection
	// (as Config.Payload).
	Payload int
	// MaxReaders bounds the goroutines serving at once; 0 means 16.
	MaxReaders int
}

type devServer struct {
	handler
	fd      int
	bufSize int
	token   chan struct{} // held by the goroutine that may read the device
	waiting atomic.Int32  // goroutines waiting for the token
	max     int
	wg      sync.WaitGroup
	// Only the token's holder touches these.
	workers int
	err     error // the first read error other than the end of the connection
}

// ServeDev serves the FUSE connection of the /dev/fuse descriptor fd
// (whose INIT go-fuse has answered) through raw until the connection
// ends, and returns nil then; it returns the error if reading the device
// fails otherwise.
func ServeDev(fd int, raw fuse.RawFileSystem, c DevConfig) error {
	if c.MaxReaders <= 0 {
		c.MaxReaders = 16
	}
	d := &devServer{
		handler: handler{raw, make(chan struct{})},
		fd:      fd,
		bufSize: inHeaderSize + (hdrEnt - hdrOpIn) + max(c.Payload, 8192),
		token:   make(chan struct{}, 1),
		max:     c.MaxReaders,
		workers: 1,
	}
	d.token <- struct{}{}
	d.wg.Add(1)
	go d.worker()
	d.wg.Wait()
	return d.err
}

func (d *devServer) worker() {
	defer d.wg.Done()
	buf := make([]byte, d.bufSize)
	e := &entry{hdr: make([]byte, hdrSize)}
	for {
		d.waiting.Add(1)
		<-d.token
		d.waiting.Add(-1)
		n, err := d.read(buf)
		// Let the next goroutine read while this one serves; start one if
		// none is waiting.
		spawn := err == nil && d.waiting.Load() == 0 && d.workers < d.max
		if spawn {
			d.workers++
			d.wg.Add(1)
		}
		if err != nil && !errors.Is(err, syscall.ENODEV) && d.err == nil {
			d.err = fmt.Errorf("reading /dev/fuse: %w", err)
		}
		d.token <- struct{}{}
		if spawn {
			go d.worker()
		}
		if err != nil {
			return // each goroutine in turn reads the end of the connection
		}
		d.handle(e, buf, n)
	}
}

// read reads one request into buf.
func (d *devServer) read(buf []byte) (int, error) {
	for {
		n, err := unix.Read(d.fd, buf)
		// ENOENT: the request was interrupted before it was read.
		if err == syscall.EINTR || err == syscall.ENOENT {
			continue
		}
		if err == nil && n < inHeaderSize {
			return 0, fmt.Errorf("short request (%d bytes)", n)
		}
		return n, err
	}
}

// handle serves the request in buf[:n] and writes the reply.
func (d *devServer) handle(e *entry, buf []byte, n int) {
	h := (*fuse.InHeader)(unsafe.Pointer(&buf[0]))
	op := h.Opcode
	body := buf[inHeaderSize:n]
	switch op {
	case opForget:
		if len(body) >= 8 {
			d.forget(h.NodeId, binary.NativeEndian.Uint64(body))
		}
		return
	case opBatchForget:
		if len(body) < 8 {
			return
		}
		count := int(binary.NativeEndian.Uint32(body))
		for i, p := 0, body[8:]; i < count && len(p) >= 16; i, p = i+1, p[16:] {
			d.forget(binary.NativeEndian.Uint64(p), binary.NativeEndian.Uint64(p[8:]))
		}
		return
	case opNotifyReply:
		return // no retrieve is ever asked for
	case opInterrupt:
		// ENOSYS: this file system does not interrupt requests, and the
		// kernel sends no more INTERRUPTs on this connection.
		d.reply(h.Unique, fuse.ENOSYS)
		return
	}
	k := -1
	if int(op) < len(opInSize) {
		k = opInSize[op]
	}
	if k < 0 || len(body) < k {
		st := fuse.ENOSYS
		if k >= 0 {
			st = fuse.EINVAL
		}
		d.reply(h.Unique, st)
		return
	}
	copy(e.hdr[:inHeaderSize], buf[:inHeaderSize])
	copy(e.hdr[hdrOpIn:hdrEnt], body[:k])
	pl := body[k:]
	*(*uint32)(unsafe.Pointer(&e.hdr[hdrPayloadSz])) = uint32(len(pl))
	e.payload = buf[inHeaderSize+k:]
	d.serve(e)
	sz := *(*uint32)(unsafe.Pointer(&e.hdr[hdrPayloadSz]))
	d.writev(e.hdr[:16], e.payload[:sz])
}

// forget passes a FORGET on, but not of go-fuse's mount check file,
// which only the dispatcher knows.
func (d *devServer) forget(node, n uint64) {
	if node == pollHackInode {
		return
	}
	defer func() { recover() }() // a FORGET has no reply to carry an error
	d.raw.Forget(node, n)
}

// reply writes a reply without payload.
func (d *devServer) reply(unique uint64, st fuse.Status) {
	var oh [16]byte
	binary.NativeEndian.PutUint32(oh[0:], 16)
	binary.NativeEndian.PutUint32(oh[4:], uint32(-int32(st)))
	binary.NativeEndian.PutUint64(oh[8:], unique)
	d.writev(oh[:], nil)
}

// writev writes one reply. Its errors are not the server's: ENOENT (the
// request was interrupted and is gone) or the end of the connection.
func (d *devServer) writev(hdr, payload []byte) {
	var iov [2]unix.Iovec
	iov[0].Base = &hdr[0]
	iov[0].SetLen(len(hdr))
	n := 1
	if len(payload) > 0 {
		iov[1].Base = &payload[0]
		iov[1].SetLen(len(payload))
		n = 2
	}
	for {
		_, _, e := syscall.Syscall(syscall.SYS_WRITEV, uintptr(d.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		if e != syscall.EINTR {
			return
		}
	}
}
