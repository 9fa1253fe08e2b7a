package s3store

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Lookups outlive Options.MetaTTL: an answer that expired is kept, and a
// listing of its directory that shows the same version of the object
// (ETag, size and LastModified) makes it fresh again. Walking a tree
// again (ls -lR, find, a second rsync) then costs one LIST per directory
// instead of one request per entry.
//
// The ETag alone would miss another client's chmod or touch: S3 copies
// an object onto itself with new metadata under the same ETag. Such a
// copy gets a new LastModified, but the bucket keeps whole seconds. So
// an answer is revalidated only if it was asked for at least
// lastModSlack after its LastModified: a later change then carries a
// later second, even with the bucket's clock that far behind this
// machine's. (A directory's marker that carries its metadata in its
// body needs only its ETag: engines such as SeaweedFS give a directory
// the LastModified of its last change inside.) An object this Store wrote has no LastModified yet (a PUT
// does not return it); the first listing that shows its ETag with a
// LastModified between the start of the write and lastModSlack after its
// end supplies it. A metadata change another client makes in those
// seconds right after this Store's write can thus go unseen until the
// object changes again; any other change is seen within MetaTTL.
const lastModSlack = 2 * time.Second

// seconds is a LastModified as a listing and a lookup both give it.
func seconds(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Truncate(time.Second).UTC()
}

func sameETag(a, b string) bool {
	return a != "" && strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// validate makes the kept answer for key fresh again if a listing taken
// at listed shows the same version of it: an object (or a directory's
// marker, for k == kDir) with this ETag, size and LastModified.
func (c *metaCache) validate(key string, k kind, etag string, size int64, lastMod, listed time.Time) {
	if c.ttl < 0 || lastMod.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	if !ok || it.oi.kind != k || !sameETag(it.oi.etag, etag) || k != kDir && it.oi.size != size {
		return
	}
	switch {
	case k == kDir && it.oi.inBody:
	case it.oi.lastMod.Equal(lastMod) && !it.seen.Before(lastMod.Add(lastModSlack)):
	case !it.own.IsZero() && (it.oi.lastMod.IsZero() || it.oi.lastMod.Equal(lastMod)) &&
		!lastMod.Before(it.own.Add(-lastModSlack).Truncate(time.Second)) && !lastMod.After(it.seen.Add(lastModSlack)):
		// This Store's write, now with the bucket's LastModified.
		it.oi.lastMod = lastMod
		if !listed.Before(lastMod.Add(lastModSlack)) {
			it.seen, it.own = listed, time.Time{}
		}
	default:
		return
	}
	it.expires = time.Now().Add(c.ttl)
	c.m[key] = it
}

// stale reports whether an expired answer is kept for key, which a
// listing of its directory may make fresh.
func (c *metaCache) stale(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	return ok && !time.Now().Before(it.expires)
}

// smallDirMax is the most entries a directory may have had for a lookup
// of an expired answer in it to list it rather than ask about the entry.
const smallDirMax = 1000

// smallDir reports whether the last listing of the directory at dirKey,
// fresh or not, fits in one page.
func (c *metaCache) smallDir(dirKey string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lists[dirKey]
	return l != nil && len(l.names) <= smallDirMax
}

// listing returns the names of a fresh listing of the directory at
// dirKey.
func (c *metaCache) listing(dirKey string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lists[dirKey]
	if l == nil || time.Now().After(l.expires) {
		return nil, false
	}
	names := make([]string, 0, len(l.names))
	for n := range l.names {
		names = append(names, n)
	}
	return names, true
}

// beginList is begin for the listing of the directory at dirKey.
func (c *metaCache) beginList(dirKey string) (done func(), wait <-chan struct{}) {
	return c.beginLocked("\x00list\x00"+dirKey, func() bool {
		l := c.lists[dirKey]
		return l != nil && time.Now().Before(l.expires)
	})
}

// list returns the entries of directory name: a fresh listing's, or one
// listing under way's, or a new listing's.
func (s *Store) list(name string) ([]string, error) {
	pfx := s.dirKey(name)
	var names []string
	known := func() (ok bool) { names, ok = s.meta.listing(pfx); return ok }
	if s.meta.ttl >= 0 {
		if done := await(known, func() (func(), <-chan struct{}) { return s.meta.beginList(pfx) }); done != nil {
			defer done()
		} else {
			return names, nil
		}
	}
	return s.children(name, 0)
}

// treePages bounds the pages (of 1,000 keys) of a listing of a subtree.
const treePages = 10

// listTree lists the subtree of directory dir in one stream of pages
// (no delimiter) and keeps the listing of every directory in it that the
// pages cover whole, revalidating what they show: a walk of a tree (ls
// -lR, find, rm -r) then costs a request per thousand entries instead of
// one per directory. A subtree larger than treePages pages is listed in
// part; the directories left out are listed one by one, as before.
func (s *Store) listTree(dir string) {
	pfx := s.dirKey(dir)
	epoch, seq := s.meta.now()
	listed := time.Now()
	gone := s.deleting(pfx)
	dirs := map[string]map[string]bool{pfx: {}}
	add := func(d, name string) {
		if dirs[d] == nil {
			dirs[d] = map[string]bool{}
		}
		if name != "" {
			dirs[d][name] = true
		}
	}
	var token *string
	last, whole := "", false
	for range treePages {
		res, err := s.c.ListObjectsV2(s.ctx(), &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(pfx), ContinuationToken: token})
		if err != nil {
			return
		}
		for _, o := range res.Contents {
			key := aws.ToString(o.Key)
			last = key
			if gone[key] || !strings.HasPrefix(key, pfx) {
				continue
			}
			kd := kFile
			switch {
			case strings.HasSuffix(key, "/"):
				kd = kDir
				add(key, "")
			case strings.HasSuffix(key, linkSuffix):
				kd = kLink
			}
			s.meta.validate(lookupKey(key), kd, aws.ToString(o.ETag), aws.ToInt64(o.Size), seconds(o.LastModified), listed)
			// The key's name in its directory, and each directory on
			// the way in its parent.
			for k := key; len(k) > len(pfx); {
				d, base := splitKey(k)
				add(d, base)
				k = d
			}
		}
		if !aws.ToBool(res.IsTruncated) {
			whole = true
			break
		}
		token = res.NextContinuationToken
	}
	for d, set := range dirs {
		if !whole && strings.HasPrefix(last, d) {
			continue // the pages may not hold all of it
		}
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		s.meta.setListingSince(d, s.localNames(d, names), epoch, seq)
	}
}
