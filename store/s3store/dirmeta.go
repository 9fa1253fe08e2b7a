package s3store

import (
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
)

// A new directory's marker, and a directory's mode and times, go to the
// bucket a little after the last change (Options.WriteBack, at least
// dirMetaDelay), in one PUT for all the changes made meanwhile: an
// extraction makes every directory and sets its mode and times once its
// content is there (tar does it last), which cost three PUTs each. This
// Store's lookups and listings see the directory at once, and the
// bucket sees it as soon as a file in it is uploaded. The marker is
// written before the directory is renamed, and not at all once it is
// removed; Sync of the directory and Close write it at once. What
// changed in those last seconds before a crash is lost (an empty new
// directory, or a directory's mode and times), as a local file system
// may lose changes of a directory that was never synced.
const dirMetaDelay = time.Second

type dirMetas struct {
	mu sync.Mutex
	m  map[string]*dirMeta // by the directory's key (no "/")
	wg sync.WaitGroup      // timers
}

type dirMeta struct {
	mtime time.Time
	mode  fs.FileMode
	timer *time.Timer
}

// pendingDirMeta returns the directory at key with the change waiting for
// its marker, if there is one.
func (s *Store) pendingDirMeta(key string) (objInfo, bool) {
	d := &s.dirMetas
	d.mu.Lock()
	defer d.mu.Unlock()
	dm, ok := d.m[key]
	if !ok {
		return objInfo{}, false
	}
	return objInfo{kind: kDir, mode: dm.mode, mtime: dm.mtime}, true
}

// setDirMeta records a change of the directory at key (s.mu held).
func (s *Store) setDirMeta(key string, mt time.Time, mode fs.FileMode) {
	d := &s.dirMetas
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]*dirMeta{}
	}
	delay := max(s.writeBack, dirMetaDelay)
	if dm, ok := d.m[key]; ok {
		dm.mtime, dm.mode = time.Unix(0, mt.UnixNano()), mode.Perm()
		if dm.timer.Stop() {
			dm.timer.Reset(delay)
		}
		return
	}
	dm := &dirMeta{mtime: time.Unix(0, mt.UnixNano()), mode: mode.Perm()}
	d.m[key] = dm
	s.meta.forget(key)
	d.wg.Add(1)
	dm.timer = time.AfterFunc(delay, func() {
		defer d.wg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		d.mu.Lock()
		mine := d.m[key] == dm
		d.mu.Unlock()
		if mine {
			s.flushDirMetas(key, false)
		}
	})
}

// newDirs adds the directories in the directory at pfx that wait for
// their marker to its entries ("name/").
func (s *Store) newDirs(pfx string, names []string) []string {
	d := &s.dirMetas
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.m {
		if rest, ok := strings.CutPrefix(k, pfx); ok && rest != "" && !strings.Contains(rest, "/") && !slices.Contains(names, rest+"/") {
			names = append(names, rest+"/")
		}
	}
	return names
}

// flushDirMetas writes the waiting changes of the directory at key (with
// under, of every directory under it too) to their markers, or with key
// "" all of them (s.mu held).
func (s *Store) flushDirMetas(key string, under bool) error {
	var errs []error
	for k, dm := range s.takeDirMetas(key, under) {
		if err := s.putMarker(k+"/", dm.mtime, dm.mode); err != nil {
			s.log.Error("s3store: directory metadata not written", "key", k, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// dropDirMetas forgets the waiting changes of the directory at key and
// under it, which is removed (s.mu held).
func (s *Store) dropDirMetas(key string) { s.takeDirMetas(key, true) }

func (s *Store) takeDirMetas(key string, under bool) map[string]*dirMeta {
	d := &s.dirMetas
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]*dirMeta{}
	for k, dm := range d.m {
		if key == "" || k == key || under && strings.HasPrefix(k, key+"/") {
			if dm.timer.Stop() {
				d.wg.Done()
			}
			delete(d.m, k)
			out[k] = dm
		}
	}
	return out
}
