//go:build race

package transport

import "sync/atomic"

// kernelOrder lets the race detector see the order that the kernel puts
// between requests served by different queues: a request that depends on
// another (the RELEASEDIR after the READDIR whose reply the client
// waited for) reaches its queue's thread through the kernel, after the
// first reply went in through another thread's io_uring_enter, and the
// race detector does not see synchronisation through system calls. In
// race builds every reply releases and every request acquires this one
// variable; requests served at the same time stay unordered, so races
// between them are still reported. Without the race detector it is not
// needed: the system calls order the memory.
var kernelOrder atomic.Uint64

func kernelAcquire() { kernelOrder.Load() }
func kernelRelease() { kernelOrder.Add(1) }
