package s3store

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Deletions go to the bucket in the background, many keys per
// DeleteObjects request: a removal returns once the name is gone from
// this Store's view (its listings and lookups), which is what makes rm -r
// of a tree cost a request per thousand files instead of one each.
//
// Order is kept where it matters: whatever writes a key waits until a
// deletion of it pending ended (lookup waits for the deletions of the
// names it looks up, put, copyObj and uploads for their key); the rename
// of a directory waits for every deletion under it; a directory's marker
// is held back while deletions under it are under way, and a batch
// deletes deeper keys first, so that a marker goes after its directory's
// content (rmdir itself does not wait). A listing leaves out keys pending
// deletion.
//
// A deletion waits deleteDelay for others to join it, unless something
// waits for it (rmdir of its directory, a write of its key, Sync, Close)
// or a whole batch is waiting.
//
// A deletion is not durable before it reached the bucket: after a crash
// the removed file is there again, as a removal whose directory was never
// synced may be undone on a local file system. Sync of a directory and
// Close wait for every pending deletion. A deletion the bucket keeps
// refusing (after deleteTries attempts) is logged, and the object shows
// again.
type deleter struct {
	mu      sync.Mutex
	pending map[string]chan struct{} // closed when the deletion ended
	queue   []string
	kick    chan struct{} // deletions are waiting
	flush   chan struct{} // someone waits for them
	stop    chan struct{}
	done    sync.WaitGroup // the worker and its batches
}

const (
	deleteBatch    = 1000 // the most keys DeleteObjects takes
	deleteInFlight = 4
	deleteTries    = 3
	deleteDelay    = 100 * time.Millisecond
)

func (s *Store) startDeleter() {
	d := &s.deletes
	d.pending = map[string]chan struct{}{}
	d.kick = make(chan struct{}, 1)
	d.flush = make(chan struct{}, 1)
	d.stop = make(chan struct{})
	d.done.Add(1)
	go s.deleteWorker()
}

// del removes the object at key: at once from this Store's view, in the
// bucket in the background.
func (s *Store) del(key string) error {
	s.meta.forget(key)
	s.meta.listed(key, true)
	d := &s.deletes
	d.mu.Lock()
	if _, ok := d.pending[key]; !ok {
		d.pending[key] = make(chan struct{})
		d.queue = append(d.queue, key)
	}
	full := len(d.queue) >= deleteBatch
	d.mu.Unlock()
	signal(d.kick)
	if full {
		signal(d.flush)
	}
	return nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// waitDeleted waits until the deletions of the keys pending end; with
// under, of every key that starts with it too.
func (s *Store) waitDeleted(under string, keys ...string) {
	d := &s.deletes
	var chs []chan struct{}
	d.mu.Lock()
	for _, k := range keys {
		if ch, ok := d.pending[k]; ok {
			chs = append(chs, ch)
		}
	}
	if under != "" || len(keys) == 0 {
		for k, ch := range d.pending {
			if strings.HasPrefix(k, under) {
				chs = append(chs, ch)
			}
		}
	}
	d.mu.Unlock()
	if len(chs) > 0 {
		signal(d.flush)
	}
	for _, ch := range chs {
		<-ch
	}
}

// deleting reports the keys pending deletion that start with pfx.
func (s *Store) deleting(pfx string) map[string]bool {
	d := &s.deletes
	d.mu.Lock()
	defer d.mu.Unlock()
	var m map[string]bool
	for k := range d.pending {
		if strings.HasPrefix(k, pfx) {
			if m == nil {
				m = map[string]bool{}
			}
			m[k] = true
		}
	}
	return m
}

func (s *Store) deleteWorker() {
	d := &s.deletes
	defer d.done.Done()
	sem := make(chan struct{}, deleteInFlight)
	for {
		select {
		case <-d.kick:
			t := time.NewTimer(deleteDelay)
			select {
			case <-t.C:
			case <-d.flush:
			case <-d.stop:
			}
			t.Stop()
		case <-d.flush:
		case <-d.stop:
			return
		}
		for {
			batch := s.takeDeletes()
			if len(batch) == 0 {
				break
			}
			sem <- struct{}{}
			d.done.Add(1)
			go func() {
				defer func() { <-sem; d.done.Done() }()
				s.deleteBatch(batch)
			}()
		}
	}
}

// takeDeletes takes the next batch from the queue: at most deleteBatch
// keys, without the markers of directories that have deletions pending
// outside it.
func (s *Store) takeDeletes() []string {
	d := &s.deletes
	d.mu.Lock()
	defer d.mu.Unlock()
	in := map[string]bool{}
	var batch, rest []string
	for _, k := range d.queue {
		if len(batch) == deleteBatch || strings.HasSuffix(k, "/") && d.blocked(k, in) {
			rest = append(rest, k)
			continue
		}
		batch = append(batch, k)
		in[k] = true
	}
	d.queue = rest
	return batch
}

// blocked reports whether a deletion under the marker m is pending and
// not in the batch being made (d.mu held).
func (d *deleter) blocked(m string, batch map[string]bool) bool {
	for k := range d.pending {
		if k != m && strings.HasPrefix(k, m) && !batch[k] {
			return true
		}
	}
	return false
}

// deleteBatch deletes keys in one request (retrying what failed), and
// ends their deletions.
func (s *Store) deleteBatch(keys []string) {
	sort.Sort(sort.Reverse(sort.StringSlice(keys))) // a directory's content before its marker
	left := keys
	for try := 1; len(left) > 0; try++ {
		objs := make([]types.ObjectIdentifier, len(left))
		for i, k := range left {
			objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.c.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: &s.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
		var failed []string
		var why string
		if err != nil {
			failed, why = left, mapErr(err).Error()
		} else {
			for _, e := range out.Errors {
				if aws.ToString(e.Code) == "NoSuchKey" {
					continue
				}
				failed = append(failed, aws.ToString(e.Key))
				why = aws.ToString(e.Code) + ": " + aws.ToString(e.Message)
			}
		}
		if len(failed) > 0 && try == deleteTries {
			s.log.Error("s3store: deletion failed; the objects stay", "keys", len(failed), "first", failed[0], "err", why)
			break
		}
		left = failed
		if len(left) > 0 {
			time.Sleep(time.Duration(try) * time.Second)
		}
	}
	d := &s.deletes
	d.mu.Lock()
	for _, k := range keys {
		if ch, ok := d.pending[k]; ok {
			close(ch)
			delete(d.pending, k)
		}
	}
	held := len(d.queue) > 0
	d.mu.Unlock()
	if held {
		signal(d.flush) // markers held back for these
	}
}

// closeDeleter waits for every pending deletion and stops the worker.
func (s *Store) closeDeleter() {
	s.waitDeleted("")
	close(s.deletes.stop)
	s.deletes.done.Wait()
}
