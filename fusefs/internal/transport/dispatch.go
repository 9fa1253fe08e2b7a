//go:build linux

package transport

import (
	"bytes"
	"slices"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// FUSE opcodes (include/uapi/linux/fuse.h).
const (
	opLookup        = 1
	opForget        = 2
	opGetattr       = 3
	opSetattr       = 4
	opReadlink      = 5
	opSymlink       = 6
	opMknod         = 8
	opMkdir         = 9
	opUnlink        = 10
	opRmdir         = 11
	opRename        = 12
	opLink          = 13
	opOpen          = 14
	opRead          = 15
	opWrite         = 16
	opStatfs        = 17
	opRelease       = 18
	opFsync         = 20
	opSetxattr      = 21
	opGetxattr      = 22
	opListxattr     = 23
	opRemovexattr   = 24
	opFlush         = 25
	opInit          = 26
	opOpendir       = 27
	opReaddir       = 28
	opReleasedir    = 29
	opFsyncdir      = 30
	opGetlk         = 31
	opSetlk         = 32
	opSetlkw        = 33
	opAccess        = 34
	opCreate        = 35
	opInterrupt     = 36
	opBmap          = 37
	opDestroy       = 38
	opIoctl         = 39
	opPoll          = 40
	opNotifyReply   = 41
	opBatchForget   = 42
	opFallocate     = 43
	opReaddirplus   = 44
	opRename2       = 45
	opLseek         = 46
	opCopyFileRange = 47
	opTmpfile       = 51
	opStatx         = 52

	inHeaderSize = int(unsafe.Sizeof(fuse.InHeader{}))

	// go-fuse's answer to its own mount check (WaitMount opens this name
	// in the root) lives in its protocol layer, not in the
	// RawFileSystem; it is answered here the same way.
	pollHackName  = ".go-fuse-epoll-hack"
	pollHackInode = ^uint64(0)
)

func bytesOf[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// in fills the go-fuse request struct *p (an InHeader followed by the
// opcode's fields) from the entry's header and per-opcode areas.
func in[T any](p *T, e *entry) *T {
	b := bytesOf(p)
	copy(b[:inHeaderSize], e.hdr[:inHeaderSize])
	copy(b[inHeaderSize:], e.hdr[hdrOpIn:hdrEnt])
	return p
}

// names splits a payload of NUL-terminated strings.
func names(p []byte, n int) ([]string, bool) {
	out := make([]string, 0, n)
	for range n {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return nil, false
		}
		out = append(out, string(p[:i]))
		p = p[i+1:]
	}
	return out, true
}

// serve answers the request in e and returns its commit id. The reply
// (fuse_out_header and payload) is written into e.
func (q *handler) serve(e *entry) (commit uint64) {
	kernelAcquire()
	h := (*fuse.InHeader)(unsafe.Pointer(&e.hdr[0]))
	unique := h.Unique
	commit = *(*uint64)(unsafe.Pointer(&e.hdr[hdrCommitID]))
	n := int(*(*uint32)(unsafe.Pointer(&e.hdr[hdrPayloadSz])))
	pl := e.payload[:min(n, len(e.payload))]
	var hdr fuse.InHeader = *h
	st, out := q.dispatch(&hdr, e, pl)
	if !st.Ok() {
		out = nil
	}
	if len(out) > len(e.payload) {
		st, out = fuse.EIO, nil
	}
	if len(out) > 0 && &out[0] != &e.payload[0] {
		copy(e.payload, out)
	}
	// The kernel copies at most the per-opcode struct's size into op_in,
	// so clear what this request left for the next one.
	clear(e.hdr[hdrOpIn:hdrEnt])
	*(*uint32)(unsafe.Pointer(&e.hdr[0])) = uint32(16 + len(out))
	*(*int32)(unsafe.Pointer(&e.hdr[4])) = -int32(st)
	*(*uint64)(unsafe.Pointer(&e.hdr[8])) = unique
	clear(e.hdr[16:hdrOpIn])
	*(*uint32)(unsafe.Pointer(&e.hdr[hdrPayloadSz])) = uint32(len(out))
	kernelRelease()
	return commit
}

func (q *handler) dispatch(h *fuse.InHeader, e *entry, pl []byte) (st fuse.Status, out []byte) {
	defer func() {
		if r := recover(); r != nil {
			st, out = fuse.EIO, nil
		}
	}()
	if h.NodeId == pollHackInode {
		return pollHack(h.Opcode)
	}
	raw, c := q.raw, q.cancel
	// The opcodes whose payload is one NUL-terminated name.
	var name string
	switch h.Opcode {
	case opLookup, opMknod, opMkdir, opUnlink, opRmdir, opLink, opCreate, opGetxattr, opRemovexattr:
		k := bytes.IndexByte(pl, 0)
		if k < 0 {
			return fuse.EINVAL, nil
		}
		name = string(pl[:k])
	}
	switch h.Opcode {
	case opLookup:
		if h.NodeId == fuse.FUSE_ROOT_ID && name == pollHackName {
			return pollHack(h.Opcode)
		}
		var o fuse.EntryOut
		return raw.Lookup(c, h, name, &o), bytesOf(&o)
	case opGetattr:
		var i fuse.GetAttrIn
		var o fuse.AttrOut
		return raw.GetAttr(c, in(&i, e), &o), bytesOf(&o)
	case opSetattr:
		var i fuse.SetAttrIn
		var o fuse.AttrOut
		return raw.SetAttr(c, in(&i, e), &o), bytesOf(&o)
	case opReadlink:
		b, st := raw.Readlink(c, h)
		return st, b
	case opSymlink:
		s, ok := names(pl, 2)
		if !ok {
			return fuse.EINVAL, nil
		}
		var o fuse.EntryOut
		return raw.Symlink(c, h, s[1], s[0], &o), bytesOf(&o)
	case opMknod:
		var i fuse.MknodIn
		var o fuse.EntryOut
		return raw.Mknod(c, in(&i, e), name, &o), bytesOf(&o)
	case opMkdir:
		var i fuse.MkdirIn
		var o fuse.EntryOut
		return raw.Mkdir(c, in(&i, e), name, &o), bytesOf(&o)
	case opUnlink:
		return raw.Unlink(c, h, name), nil
	case opRmdir:
		return raw.Rmdir(c, h, name), nil
	case opRename, opRename2:
		s, ok := names(pl, 2)
		if !ok {
			return fuse.EINVAL, nil
		}
		var i fuse.RenameIn
		return raw.Rename(c, in(&i, e), s[0], s[1]), nil
	case opLink:
		var i fuse.LinkIn
		var o fuse.EntryOut
		return raw.Link(c, in(&i, e), name, &o), bytesOf(&o)
	case opOpen:
		var i fuse.OpenIn
		var o fuse.OpenOut
		return raw.Open(c, in(&i, e), &o), bytesOf(&o)
	case opOpendir:
		var i fuse.OpenIn
		var o fuse.OpenOut
		return raw.OpenDir(c, in(&i, e), &o), bytesOf(&o)
	case opCreate:
		var i fuse.CreateIn
		var o fuse.CreateOut
		return raw.Create(c, in(&i, e), name, &o), bytesOf(&o)
	case opTmpfile:
		var i fuse.CreateIn
		var o fuse.CreateOut
		return raw.Tmpfile(c, in(&i, e), &o), bytesOf(&o)
	case opRead:
		var i fuse.ReadIn
		in(&i, e)
		buf := e.payload[:min(int(i.Size), len(e.payload))]
		res, st := raw.Read(c, &i, buf)
		if res == nil {
			return st, nil
		}
		defer res.Done()
		if !st.Ok() {
			return st, nil
		}
		d, st := res.Bytes(buf)
		return st, d
	case opWrite:
		var i fuse.WriteIn
		in(&i, e)
		data := pl[:min(int(i.Size), len(pl))]
		var o fuse.WriteOut
		o.Size, st = raw.Writev(c, &i, [][]byte{data})
		if st == fuse.ENOSYS {
			o.Size, st = raw.Write(c, &i, data)
		}
		return st, bytesOf(&o)
	case opStatfs:
		var o fuse.StatfsOut
		return raw.StatFs(c, h, &o), bytesOf(&o)
	case opRelease:
		var i fuse.ReleaseIn
		raw.Release(c, in(&i, e))
		return fuse.OK, nil
	case opReleasedir:
		var i fuse.ReleaseIn
		raw.ReleaseDir(in(&i, e))
		return fuse.OK, nil
	case opFsync:
		var i fuse.FsyncIn
		return raw.Fsync(c, in(&i, e)), nil
	case opFsyncdir:
		var i fuse.FsyncIn
		return raw.FsyncDir(c, in(&i, e)), nil
	case opFlush:
		var i fuse.FlushIn
		return raw.Flush(c, in(&i, e)), nil
	case opSetxattr:
		var i fuse.SetXAttrIn
		in(&i, e)
		// The kernel sends the short fuse_setxattr_in (8 bytes) unless
		// FUSE_SETXATTR_EXT was negotiated, which go-fuse does not ask
		// for: the name follows it directly.
		k := bytes.IndexByte(pl, 0)
		if k < 0 {
			return fuse.EINVAL, nil
		}
		val := pl[k+1:]
		val = val[:min(int(i.Size), len(val))]
		return raw.SetXAttr(c, &i, string(pl[:k]), val), nil
	case opGetxattr, opListxattr:
		var i fuse.GetXAttrIn
		in(&i, e)
		dest := e.payload[:min(int(i.Size), len(e.payload))]
		var sz uint32
		if h.Opcode == opGetxattr {
			sz, st = raw.GetXAttr(c, h, name, dest)
		} else {
			sz, st = raw.ListXAttr(c, h, dest)
		}
		// A size probe (Size 0) is answered with the size, ERANGE or not.
		if !st.Ok() && !(i.Size == 0 && st == fuse.ERANGE) {
			return st, nil
		}
		if i.Size == 0 {
			o := fuse.GetXAttrOut{Size: sz}
			return fuse.OK, bytesOf(&o)
		}
		if int(sz) > len(dest) {
			return fuse.ERANGE, nil
		}
		return fuse.OK, dest[:sz]
	case opRemovexattr:
		return raw.RemoveXAttr(c, h, name), nil
	case opReaddir, opReaddirplus:
		var i fuse.ReadIn
		in(&i, e)
		l := fuse.NewDirEntryList(e.payload[:min(int(i.Size), len(e.payload))], i.Offset)
		if h.Opcode == opReaddir {
			st = raw.ReadDir(c, &i, l)
		} else {
			st = raw.ReadDirPlus(c, &i, l)
		}
		return st, l.Bytes()
	case opGetlk:
		var i fuse.LkIn
		var o fuse.LkOut
		return raw.GetLk(c, in(&i, e), &o), bytesOf(&o)
	case opSetlk:
		var i fuse.LkIn
		return raw.SetLk(c, in(&i, e)), nil
	case opSetlkw:
		var i fuse.LkIn
		return raw.SetLkw(c, in(&i, e)), nil
	case opAccess:
		var i fuse.AccessIn
		return raw.Access(c, in(&i, e)), nil
	case opFallocate:
		var i fuse.FallocateIn
		return raw.Fallocate(c, in(&i, e)), nil
	case opLseek:
		var i fuse.LseekIn
		var o fuse.LseekOut
		return raw.Lseek(c, in(&i, e), &o), bytesOf(&o)
	case opCopyFileRange:
		var i fuse.CopyFileRangeIn
		var o fuse.WriteOut
		o.Size, st = raw.CopyFileRange(c, in(&i, e))
		return st, bytesOf(&o)
	case opStatx:
		var i fuse.StatxIn
		var o fuse.StatxOut
		return raw.Statx(c, in(&i, e), &o), bytesOf(&o)
	case opDestroy:
		return fuse.OK, nil
	case opIoctl:
		var i fuse.IoctlIn
		in(&i, e)
		var o fuse.IoctlOut
		outBuf := make([]byte, i.OutSize)
		st = raw.Ioctl(c, &i, pl, &o, outBuf)
		if !st.Ok() {
			return st, nil
		}
		return st, slices.Concat(bytesOf(&o), outBuf)
	}
	return fuse.ENOSYS, nil
}

// pollHack answers go-fuse's mount check file the way go-fuse's protocol
// layer does: a regular file that exists, with ENOSYS for POLL.
func pollHack(op uint32) (fuse.Status, []byte) {
	attr := fuse.Attr{Ino: pollHackInode, Mode: fuse.S_IFREG | 0o644, Nlink: 1}
	switch op {
	case opLookup:
		o := fuse.EntryOut{NodeId: pollHackInode, Attr: attr}
		return fuse.OK, bytesOf(&o)
	case opOpen:
		// No FLUSH at its close: the process that opens it is the server
		// (fusefs' pollHack), and a server killed with it open would wait
		// in exit for its own answer to the FLUSH, forever.
		o := fuse.OpenOut{Fh: pollHackInode, OpenFlags: fuse.FOPEN_NOFLUSH}
		return fuse.OK, bytesOf(&o)
	case opGetattr, opSetattr:
		o := fuse.AttrOut{Attr: attr}
		return fuse.OK, bytesOf(&o)
	case opGetxattr:
		return fuse.ENODATA, nil
	case opAccess, opFlush, opRelease:
		return fuse.OK, nil
	case opPoll:
		return fuse.ENOSYS, nil
	}
	return fuse.ERANGE, nil
}
