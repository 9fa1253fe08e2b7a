package sealfs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

// TestSharedStorageConcurrentRW: with SharedStorage, readers and writers
// of one file through different handles never see a block half written
// (a read failed authentication about one run in four before).
func TestSharedStorageConcurrentRW(t *testing.T) {
	dir := t.TempDir()
	f, err := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	must(t, err)
	f.Close()
	f, err = sealfs.Open(dir, []byte("pw"), &sealfs.Options{SharedStorage: true, ConfigPath: filepath.Join(dir, vault.DefaultFile)})
	must(t, err)
	defer f.Close()
	const blocks = 16
	patterns := [][]byte{bytes.Repeat([]byte("a"), 4096*blocks), bytes.Repeat([]byte("b"), 4096*blocks)}
	must(t, f.WriteFile("shared", patterns[0], 0o644))
	stop := time.Now().Add(700 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := f.OpenFile("shared", os.O_RDWR, 0)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			for i := 0; time.Now().Before(stop); i++ {
				if _, err := h.WriteAt(patterns[(i+w)%2][:4096*(1+i%blocks)], 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := f.OpenFile("shared", os.O_RDONLY, 0)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			buf := make([]byte, 4096*blocks)
			for time.Now().Before(stop) {
				n, err := h.ReadAt(buf, 0)
				if err != nil && n != len(buf) {
					errs <- err
					return
				}
				for b := 0; b < blocks; b++ {
					blk := buf[b*4096 : (b+1)*4096]
					if !bytes.Equal(blk, patterns[0][:4096]) && !bytes.Equal(blk, patterns[1][:4096]) {
						errs <- os.ErrInvalid
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent read/write with SharedStorage: %v", err)
	}
}
