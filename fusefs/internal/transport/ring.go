//go:build linux

// Package transport reads FUSE requests and writes the replies for a
// connection that go-fuse has mounted and initialised, handing each
// request to the go-fuse RawFileSystem that would otherwise serve it
// through go-fuse's own reader loop. Two transports share one dispatcher:
//
//   - /dev/fuse (ServeDev, dev.go), with one reader at a time;
//   - FUSE-over-io_uring (Start; Linux 6.14 and later, fuse module
//     parameter enable_uring=Y): one queue per CPU, each served by a
//     thread pinned to that CPU, so a request is handled and answered on
//     the CPU of the process that made it, with no wake-up of a thread on
//     another CPU. What the kernel still sends on /dev/fuse then (FORGET,
//     INTERRUPT) is read by ServeDev beside it.
//
// The io_uring interface (include/uapi/linux/fuse.h, ABI 7.42): each queue
// entry is a header buffer (the fuse_in_header or fuse_out_header, the
// per-opcode struct, and struct fuse_uring_ent_in_out) and a payload
// buffer, registered with FUSE_IO_URING_CMD_REGISTER in an
// IORING_OP_URING_CMD SQE (128-byte SQEs) on the /dev/fuse descriptor; the
// completion of that SQE carries a request, and the reply goes back with
// FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also waits for the next one.
package transport

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// ErrUnsupported: the kernel does not offer FUSE-over-io_uring (too old,
// or the fuse module's enable_uring parameter is off), or io_uring is
// disabled for this process.
var ErrUnsupported = errors.New("FUSE over io_uring is not available")

const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	setupSQE128    = 1 << 10
	featSingleMmap = 1 << 0
	offSQRing      = 0
	offCQRing      = 0x8000000
	offSQEs        = 0x10000000
	enterGetEvents = 1
	sqeOpRead      = 22
	opURingCmd     = 46
	sqeSize        = 128
	cqeSize        = 16

	cmdRegister    = 1
	cmdCommitFetch = 2

	// struct fuse_uring_req_header: in_out[128], op_in[128], then
	// struct fuse_uring_ent_in_out {flags, commit_id u64; payload_sz,
	// padding u32; reserved u64}.
	hdrOpIn      = 128
	hdrEnt       = 256
	hdrCommitID  = hdrEnt + 8
	hdrPayloadSz = hdrEnt + 16
	hdrSize      = hdrEnt + 32
)

// Enabled reports whether the kernel's fuse module has FUSE-over-io_uring
// switched on (the enable_uring parameter).
func Enabled() bool {
	b, err := os.ReadFile("/sys/module/fuse/parameters/enable_uring")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// Probe reports whether this process can create an io_uring with 128-byte
// SQEs (io_uring may be disabled by sysctl or seccomp).
func Probe() error {
	r, err := newRing(2)
	if err != nil {
		return err
	}
	r.close()
	return nil
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sq                                                                     sqOffsets
	cq                                                                     cqOffsets
}

// ring is one io_uring instance, used by one thread only.
type ring struct {
	fd             int
	maps           [][]byte
	sqTail         *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []byte
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []byte
	toSubmit       uint32
}

func newRing(entries uint32) (*ring, error) {
	var p ringParams
	p.flags = setupSQE128
	fd, _, e := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	r := &ring{fd: int(fd)}
	mp := func(off int64, n int) ([]byte, error) {
		b, err := unix.Mmap(r.fd, off, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, fmt.Errorf("io_uring mmap: %w", err)
		}
		r.maps = append(r.maps, b)
		return b, nil
	}
	sqLen := int(p.sq.array + p.sqEntries*4)
	cqLen := int(p.cq.cqes + p.cqEntries*cqeSize)
	if p.features&featSingleMmap != 0 {
		sqLen = max(sqLen, cqLen)
	}
	sq, err := mp(offSQRing, sqLen)
	if err != nil {
		r.close()
		return nil, err
	}
	cq := sq
	if p.features&featSingleMmap == 0 {
		if cq, err = mp(offCQRing, cqLen); err != nil {
			r.close()
			return nil, err
		}
	}
	if r.sqes, err = mp(offSQEs, int(p.sqEntries)*sqeSize); err != nil {
		r.close()
		return nil, err
	}
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sq.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&sq[p.sq.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sq.array])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cq.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cq.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cq.ringMask]))
	r.cqes = cq[p.cq.cqes : p.cq.cqes+p.cqEntries*cqeSize]
	return r, nil
}

func (r *ring) close() {
	for _, m := range r.maps {
		unix.Munmap(m)
	}
	r.maps = nil
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
}

// sqe returns the next submission entry, zeroed; it is submitted by the
// next enter.
func (r *ring) sqe() []byte {
	t := *r.sqTail
	i := t & r.sqMask
	s := r.sqes[i*sqeSize : (i+1)*sqeSize]
	clear(s)
	r.sqArray[i] = i
	atomic.StoreUint32(r.sqTail, t+1)
	r.toSubmit++
	return s
}

// enter submits what sqe queued and waits for at least wait completions.
func (r *ring) enter(wait uint32) error {
	flags := uintptr(0)
	if wait > 0 {
		flags = enterGetEvents
	}
	for {
		n, _, e := syscall.Syscall6(sysIOUringEnter, uintptr(r.fd), uintptr(r.toSubmit), uintptr(wait), flags, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("io_uring_enter: %w", e)
		}
		r.toSubmit -= min(uint32(n), r.toSubmit)
		if r.toSubmit == 0 || wait > 0 {
			return nil
		}
	}
}

// pending reports whether a completion is waiting.
func (r *ring) pending() bool { return *r.cqHead != atomic.LoadUint32(r.cqTail) }

// firstError returns the result of the first waiting completion that
// is an error, or 0, without taking any.
func (r *ring) firstError() int32 {
	for h, t := *r.cqHead, atomic.LoadUint32(r.cqTail); h != t; h++ {
		c := r.cqes[(h&r.cqMask)*cqeSize:]
		if res := *(*int32)(unsafe.Pointer(&c[8])); res < 0 {
			return res
		}
	}
	return 0
}

// reap returns the next completion (user data, result), if any.
func (r *ring) reap() (uint64, int32, bool) {
	h := *r.cqHead
	if h == atomic.LoadUint32(r.cqTail) {
		return 0, 0, false
	}
	c := r.cqes[(h&r.cqMask)*cqeSize:]
	ud := *(*uint64)(unsafe.Pointer(&c[0]))
	res := *(*int32)(unsafe.Pointer(&c[8]))
	atomic.StoreUint32(r.cqHead, h+1)
	return ud, res, true
}

// Config sizes a Ring.
type Config struct {
	// Payload is the size of each entry's payload buffer: at least the
	// connection's max_write and max_pages×page size (the kernel refuses
	// smaller ones).
	Payload int
	// PerQueue is the number of entries (requests in progress at once) of
	// each CPU's queue; 0 means 4, or 2 beyond 16 CPUs (each entry holds
	// a payload buffer, backed once used).
	PerQueue int
	// OnError, if set, is told about a queue that stopped for another
	// reason than the end of the connection.
	OnError func(error)
}

// Ring is a running set of queues serving one connection.
type Ring struct {
	served atomic.Uint64
}

// Served is the number of requests answered over the ring so far.
func (rg *Ring) Served() uint64 { return rg.served.Load() }

// Start registers one queue per possible CPU on the FUSE device fd (a
// /dev/fuse descriptor whose INIT reply asked for FUSE_OVER_IO_URING) and
// serves requests from them through raw until the connection ends. If it
// fails before a queue registered, the caller must not count on the ring;
// the kernel then keeps using /dev/fuse once a registration fails.
func Start(fd int, raw fuse.RawFileSystem, c Config) (*Ring, error) {
	n, err := possibleCPUs()
	if err != nil {
		return nil, err
	}
	if c.PerQueue <= 0 {
		c.PerQueue = 4
		if n > 16 {
			c.PerQueue = 2
		}
	}
	pg := os.Getpagesize()
	c.Payload = (max(c.Payload, 8192) + pg - 1) / pg * pg
	rg := &Ring{}
	started := make(chan error, n)
	for qid := 0; qid < n; qid++ {
		q := &queue{handler: handler{raw, make(chan struct{})}, qid: qid, dev: fd, cfg: c, served: &rg.served}
		go q.run(started)
	}
	var first error
	for range n {
		if err := <-started; err != nil && first == nil {
			first = err
		}
	}
	return rg, first
}

// possibleCPUs: the kernel has one queue per possible CPU
// (/sys/devices/system/cpu/possible, e.g. "0-7"), and the ring serves
// nothing until each one has an entry.
func possibleCPUs() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return 0, err
	}
	return cpuCount(string(b))
}

// cpuCount: one more than the highest CPU of a kernel CPU list
// ("0-3,8-11").
func cpuCount(list string) (int, error) {
	hi := -1
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		first, last, isRange := strings.Cut(part, "-")
		if !isRange {
			last = first
		}
		u, err1 := strconv.Atoi(first)
		v, err := strconv.Atoi(last)
		if err != nil || err1 != nil || u < 0 || v < u {
			return 0, fmt.Errorf("parsing the CPU list %q: bad entry %q", list, part)
		}
		hi = max(hi, v)
	}
	return hi + 1, nil
}

type entry struct {
	hdr     []byte
	payload []byte
	iov     [2]unix.Iovec
}

// handler hands requests to a go-fuse RawFileSystem.
type handler struct {
	raw    fuse.RawFileSystem
	cancel chan struct{} // never closed: requests are not interrupted
}

type queue struct {
	handler
	qid    int
	dev    int
	cfg    Config
	r      *ring
	ents   []*entry
	mem    []byte
	served *atomic.Uint64

	// Requests that may take long (slowOpcode) are served on goroutines
	// of their own, so that they do not hold up the rest of this CPU's
	// queue; their replies wait in done, and a write to the eventfd efd
	// completes the read of it that the queue keeps pending (into wake),
	// which wakes the queue's thread to commit them.
	mu    sync.Mutex
	aside sync.WaitGroup
	done  []answered
	efd   int
	wake  []byte
}

// answered is an entry whose reply is ready to commit.
type answered struct {
	i      int
	commit uint64
}

// udWake is the user data of the eventfd read.
const udWake = 1 << 63

// slowOpcode reports whether requests of this opcode may take long: they
// wait for the disk (fsync, fallocate, copy_file_range) or for a lock.
func slowOpcode(op uint32) bool {
	switch op {
	case opFsync, opFsyncdir, opFlush, opFallocate, opCopyFileRange, opSetlkw:
		return true
	}
	return false
}

// armWake queues the read of efd whose completion wakes the queue.
func (q *queue) armWake() {
	s := q.r.sqe()
	s[0] = sqeOpRead
	*(*int32)(unsafe.Pointer(&s[4])) = int32(q.efd)
	*(*uint64)(unsafe.Pointer(&s[16])) = uint64(uintptr(unsafe.Pointer(&q.wake[0])))
	*(*uint32)(unsafe.Pointer(&s[24])) = 8
	*(*uint64)(unsafe.Pointer(&s[32])) = udWake
}

// serveAside serves entry i on the calling goroutine and hands the reply
// to the queue's thread.
func (q *queue) serveAside(i int) {
	commit := q.serve(q.ents[i])
	one := [8]byte{1}
	q.mu.Lock()
	q.done = append(q.done, answered{i, commit})
	if q.efd >= 0 {
		unix.Write(q.efd, one[:])
	}
	q.mu.Unlock()
}

// commitAside submits the replies that serveAside made ready.
func (q *queue) commitAside() {
	q.mu.Lock()
	done := q.done
	q.done = nil
	q.mu.Unlock()
	for _, a := range done {
		q.served.Add(1)
		q.submit(cmdCommitFetch, a.i, a.commit)
	}
}

func (q *queue) submit(op uint32, i int, commit uint64) {
	s := q.r.sqe()
	s[0] = opURingCmd
	*(*int32)(unsafe.Pointer(&s[4])) = int32(q.dev)
	*(*uint32)(unsafe.Pointer(&s[8])) = op // cmd_op
	if op == cmdRegister {
		*(*uint64)(unsafe.Pointer(&s[16])) = uint64(uintptr(unsafe.Pointer(&q.ents[i].iov[0])))
		*(*uint32)(unsafe.Pointer(&s[24])) = 2
	}
	*(*uint64)(unsafe.Pointer(&s[32])) = uint64(i) // user_data
	// struct fuse_uring_cmd_req in the command area (offset 48): flags,
	// commit_id, qid.
	*(*uint64)(unsafe.Pointer(&s[56])) = commit
	*(*uint16)(unsafe.Pointer(&s[64])) = uint16(q.qid)
}

func (q *queue) setup() error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(q.qid)
	// A CPU outside this process's allowed set still has a queue to
	// fill; its thread then runs wherever the scheduler puts it.
	_ = unix.SchedSetaffinity(0, &set)
	var err error
	if q.r, err = newRing(uint32(2 * q.cfg.PerQueue)); err != nil {
		return err
	}
	// Buffers outside the Go heap: the kernel writes them from the task
	// work of this thread, and pages are only backed once touched.
	per := hdrSize + q.cfg.Payload
	q.mem, err = unix.Mmap(-1, 0, per*q.cfg.PerQueue+8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("entry buffers: %w", err)
	}
	q.wake = q.mem[per*q.cfg.PerQueue:]
	if q.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		q.efd = -1
		return fmt.Errorf("eventfd: %w", err)
	}
	q.armWake()
	for i := 0; i < q.cfg.PerQueue; i++ {
		b := q.mem[i*per : (i+1)*per]
		e := &entry{hdr: b[:hdrSize:hdrSize], payload: b[hdrSize:]}
		e.iov[0].Base = &e.hdr[0]
		e.iov[0].SetLen(hdrSize)
		e.iov[1].Base = &e.payload[0]
		e.iov[1].SetLen(len(e.payload))
		q.ents = append(q.ents, e)
		q.submit(cmdRegister, i, 0)
	}
	if err := q.r.enter(0); err != nil {
		return err
	}
	// A registration the kernel refuses completes at once, with an error;
	// one it accepts completes when a request comes.
	if res := q.r.firstError(); res < 0 {
		return fmt.Errorf("registering the entries: %w", syscall.Errno(-res))
	}
	return nil
}

func (q *queue) run(started chan<- error) {
	defer func() {
		q.mu.Lock()
		if q.efd >= 0 {
			unix.Close(q.efd)
			q.efd = -1
		}
		q.mu.Unlock()
		q.aside.Wait() // they write into the entries
		if q.r != nil {
			q.r.close()
		}
		if q.mem != nil {
			unix.Munmap(q.mem)
		}
	}()
	if err := q.setup(); err != nil {
		started <- fmt.Errorf("queue %d: %w", q.qid, err)
		return
	}
	started <- nil
	live := len(q.ents)
	for live > 0 {
		if err := q.r.enter(1); err != nil {
			q.fail(err)
			return
		}
		for {
			ud, res, ok := q.r.reap()
			if !ok {
				break
			}
			if ud == udWake {
				q.commitAside()
				if res < 0 && res != -int32(syscall.EINTR) && res != -int32(syscall.EAGAIN) {
					q.fail(fmt.Errorf("queue %d eventfd: %w", q.qid, syscall.Errno(-res)))
					return
				}
				q.armWake()
				continue
			}
			if res < 0 {
				// The connection ended (ENOTCONN, ECONNABORTED, ...)
				// or the kernel refused the entry: it is gone.
				live--
				if e := syscall.Errno(-res); e != syscall.ENOTCONN && e != syscall.ECONNABORTED && e != syscall.ENODEV && e != syscall.ECANCELED {
					q.fail(fmt.Errorf("queue %d entry %d: %w", q.qid, ud, e))
				}
				continue
			}
			e := q.ents[ud]
			if slowOpcode(*(*uint32)(unsafe.Pointer(&e.hdr[4]))) {
				q.aside.Add(1)
				go func() {
					defer q.aside.Done()
					q.serveAside(int(ud))
				}()
				continue
			}
			commit := q.serve(e)
			q.served.Add(1)
			q.submit(cmdCommitFetch, int(ud), commit)
			// Hand this reply to the kernel before serving the next
			// request of the batch.
			if q.r.pending() {
				if err := q.r.enter(0); err != nil {
					q.fail(err)
					return
				}
			}
		}
	}
}

func (q *queue) fail(err error) {
	if q.cfg.OnError != nil {
		q.cfg.OnError(err)
	}
}

// Refuse makes the kernel give up FUSE-over-io_uring on the connection of
// fd and serve it through /dev/fuse after all: a registration the kernel
// rejects (here one without buffers) switches the connection back, and
// releases the requests it was holding for the ring.
func Refuse(fd int) error {
	r, err := newRing(2)
	if err != nil {
		return err
	}
	defer r.close()
	s := r.sqe()
	s[0] = opURingCmd
	*(*int32)(unsafe.Pointer(&s[4])) = int32(fd)
	*(*uint32)(unsafe.Pointer(&s[8])) = cmdRegister
	if err := r.enter(1); err != nil {
		return err
	}
	_, res, ok := r.reap()
	if !ok {
		return errors.New("io_uring: no completion for the refused registration")
	}
	if res >= 0 {
		return fmt.Errorf("io_uring: the kernel accepted a registration without buffers (%d)", res)
	}
	return nil
}
