//go:build linux

package fusefs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealfs/sealfs/vault"
)

// listDir lists dir through the mount, n entries per getdents batch of
// the Go runtime (n <= 0: all at once).
func listDir(dir string, n int) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out []string
	for {
		ents, err := d.ReadDir(n)
		for _, e := range ents {
			out = append(out, e.Name())
		}
		if n <= 0 || err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// sameNames fails unless got holds exactly the names of want, once each.
func sameNames(t *testing.T, what string, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Fatalf("%s: %q listed twice", what, n)
		}
		if !want[n] {
			t.Fatalf("%s: unexpected %q", what, n)
		}
		seen[n] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("%s: %d of %d names listed", what, len(seen), len(want))
	}
}

// Directories are read without OPENDIR and RELEASEDIR round trips (the
// kernel offers it since Linux 5.1). Listings stay whole and exact when
// they take many READDIRPLUS replies, when many run at once on the same
// directory, after changes through the mount, after a rewind, and when
// callers abandon them half way: the handles kept for those stay bounded
// and go when the kernel forgets the directory.
func TestZeroMessageOpendir(t *testing.T) {
	mnt, _, f, srv := mountVaultServer(t, vault.Options{}, nil)
	if !srv.raw.enabled {
		t.Fatal("the kernel did not offer zero-message opendir (FUSE_NO_OPENDIR_SUPPORT)")
	}
	long := strings.Repeat("n", 100)
	fill := func(dir string, n int) map[string]bool {
		t.Helper()
		if err := f.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%03d-%s", i, long)
			if err := f.WriteFile(dir+"/"+name, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			want[name] = true
		}
		return want
	}
	want := fill("big", 600)
	big := filepath.Join(mnt, "big")

	got, err := listDir(big, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameNames(t, "whole listing", got, want)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				got, err := listDir(big, 7+g)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != len(want) {
					errs <- fmt.Errorf("concurrent listing %d: %d of %d names", g, len(got), len(want))
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Changes through the mount show in the next listing at once, though
	// the kernel now keeps listings in its directory cache.
	if err := os.WriteFile(filepath.Join(big, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := fmt.Sprintf("%03d-%s", 0, long)
	if err := os.Remove(filepath.Join(big, first)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(big, fmt.Sprintf("%03d-%s", 1, long)), filepath.Join(mnt, "moved")); err != nil {
		t.Fatal(err)
	}
	want["new"] = true
	delete(want, first)
	delete(want, fmt.Sprintf("%03d-%s", 1, long))
	got, err = listDir(big, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameNames(t, "after changes", got, want)
	root, err := listDir(mnt, 0)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(root)
	if strings.Join(root, " ") != "big moved" {
		t.Fatalf("root lists %q", root)
	}

	// A rewind starts the listing again.
	d, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadDir(10); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sameNames(t, "after a rewind", got, want)

	// Listings abandoned after the first batch: the handles kept for
	// them stay bounded, and every directory still lists whole.
	const dirs = maxCursors + 6
	wants := make([]map[string]bool, dirs)
	for i := range wants {
		wants[i] = fill(fmt.Sprintf("d%02d", i), 150)
	}
	for i := range wants {
		d, err := os.Open(filepath.Join(mnt, fmt.Sprintf("d%02d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if ents, err := d.ReadDir(1); err != nil || len(ents) != 1 {
			t.Fatalf("first entry of d%02d: %v, %v", i, ents, err)
		}
		d.Close()
	}
	srv.raw.mu.Lock()
	kept := srv.raw.count
	srv.raw.mu.Unlock()
	if kept == 0 || kept > maxCursors {
		t.Fatalf("%d handles kept for %d abandoned listings, want 1..%d", kept, dirs, maxCursors)
	}
	for i, w := range wants {
		got, err := listDir(filepath.Join(mnt, fmt.Sprintf("d%02d", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, fmt.Sprintf("d%02d after an abandoned listing", i), got, w)
	}

	// When the kernel forgets the directories, their handles go.
	if os.Geteuid() == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
				t.Fatal(err)
			}
			srv.raw.mu.Lock()
			kept = srv.raw.count
			srv.raw.mu.Unlock()
			if kept == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d directory handles kept after the kernel forgot the directories", kept)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// With -sharedstorage the kernel must not keep listings, so directories
// are opened as before.
func TestOpendirSharedStorage(t *testing.T) {
	mnt, _, f, srv := mountVaultServer(t, vault.Options{}, &Options{SharedStorage: true})
	if srv.raw.enabled {
		t.Fatal("zero-message opendir with -sharedstorage")
	}
	if err := f.WriteFile("a", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := listDir(mnt, 0)
	if err != nil || len(got) != 1 || got[0] != "a" {
		t.Fatalf("listing %q, %v", got, err)
	}
	// A change behind the mount's back shows in the next listing.
	if err := f.WriteFile("b", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = listDir(mnt, 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("listing after a change behind the mount's back %q, %v", got, err)
	}
}
