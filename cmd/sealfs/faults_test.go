//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fsckVault checks a vault with gocryptfs -fsck (and sealfs -fsck when this
// build has it): no corrupt file, no undecryptable name.
func fsckVault(t *testing.T, cipher, pw string) {
	t.Helper()
	if out, err := shErr("", "gocryptfs", "-fsck", "-q", "-passfile", pw, cipher); err != nil {
		t.Errorf("gocryptfs -fsck: %v\n%s", err, out)
	}
	if lookupCommand("fsck") != nil {
		if out, err := shErr("", "sealfs", "-fsck", "-q", "-passfile", pw, cipher); err != nil {
			t.Errorf("sealfs -fsck: %v\n%s", err, out)
		}
	}
}

// checkPrefix reads a file through a mount and returns its length. Data it returns must be
// right; it may stop early only with EIO (a block that was torn by the
// fault and is detected as such).
func checkPrefix(t *testing.T, path string, want []byte) (n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, syscall.EIO) {
		t.Errorf("%s: read error %v (want data or EIO)", path, err)
	}
	if len(got) > len(want) {
		t.Errorf("%s: %d bytes, more than the %d ever written", path, len(got), len(want))
		got = got[:len(want)]
	}
	if !bytes.Equal(got, want[:len(got)]) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: wrong data read back at offset %d", path, i)
	}
	return len(got)
}

// TestENOSPC fills the file system that holds CIPHERDIR (a 4 MiB tmpfs)
// through a sealfs mount: the writer gets ENOSPC, files and data written
// before stay intact and readable, nothing wrong is read back, and the
// vault passes fsck after unmounting (and freeing space).
func TestENOSPC(t *testing.T) {
	needFUSE(t, "gocryptfs", "mount", "umount")
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	d := newDirs(t, "small", "mnt")
	small, mnt := d[0], d[1]
	sh(t, "", "mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small)
	t.Cleanup(func() { exec.Command("umount", "-l", small).Run() })
	cipher := filepath.Join(small, "cipher")
	if err := os.Mkdir(cipher, 0o700); err != nil {
		t.Fatal(err)
	}
	pw := writePassfile(t)
	sh(t, "", "sealfs", "-init", "-q", "-scryptn", "10", "-passfile", pw, cipher)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-q", "-passfile", pw, cipher, mnt)

	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte { return randomBytes(rng, n) }
	before := random(300_000)
	if err := os.WriteFile(filepath.Join(mnt, "before"), before, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file that will be appended to when the space runs out.
	grow := random(10_000)
	if err := os.WriteFile(filepath.Join(mnt, "grow"), grow, 0o644); err != nil {
		t.Fatal(err)
	}

	// Fill with 64 KiB writes until the space runs out.
	big := random(8 << 20)
	f, err := os.Create(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	var werr error
	for written < len(big) {
		n, err := f.Write(big[written:min(written+65536, len(big))])
		written += n
		if err != nil {
			werr = err
			break
		}
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing %d bytes to a 4 MiB file system: error %v, want ENOSPC", written, werr)
	}
	t.Logf("ENOSPC after %d bytes", written)

	// Appending to an existing file fails too, and leaves it as it was.
	g, err := os.OpenFile(filepath.Join(mnt, "grow"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var gerr error
	for i := 0; i < 64 && gerr == nil; i++ {
		_, gerr = g.Write(random(65536))
	}
	g.Close()
	if !errors.Is(gerr, syscall.ENOSPC) {
		t.Errorf("appending with the file system full: %v, want ENOSPC", gerr)
	}

	// Earlier data is intact; what the full file holds is right.
	if got, err := os.ReadFile(filepath.Join(mnt, "before")); err != nil || !bytes.Equal(got, before) {
		t.Errorf("the file written before ENOSPC: err %v, equal %v", err, bytes.Equal(got, before))
	}
	if n := checkPrefix(t, filepath.Join(mnt, "big"), big[:written]); n == 0 {
		t.Errorf("nothing of the %d bytes written before ENOSPC reads back", written)
	}
	gotGrow, err := os.ReadFile(filepath.Join(mnt, "grow"))
	if err != nil || len(gotGrow) < len(grow) || !bytes.Equal(gotGrow[:len(grow)], grow) {
		t.Errorf("the appended file lost its first %d bytes: err %v, %d bytes", len(grow), err, len(gotGrow))
	}

	// The full vault passes fsck: no torn block was left behind.
	sh(t, "", "sealfs", "unmount", mnt)
	fsckVault(t, cipher, pw)

	// Free space through the mount; the vault works again.
	sh(t, "", "sealfs", "-q", "-passfile", pw, cipher, mnt)
	if err := os.Remove(filepath.Join(mnt, "big")); err != nil {
		t.Fatal(err)
	}
	after := random(100_000)
	if err := os.WriteFile(filepath.Join(mnt, "after"), after, 0o644); err != nil {
		t.Errorf("writing after freeing space: %v", err)
	}
	sh(t, "", "sealfs", "unmount", mnt)
	fsckVault(t, cipher, pw)
	if got := sh(t, "", "sealfs", "cat", "-q", "-passfile", pw, cipher, "before"); got != string(before) {
		t.Errorf("after unmounting, the first file differs")
	}
}

// TestKill9 kills the serving process with SIGKILL after fsync'ed writes:
// the fsync'ed data survives, the dead mount can be lazily unmounted, and
// the vault mounts again and passes fsck.
func TestKill9(t *testing.T) {
	needFUSE(t, "gocryptfs")
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)

	server := exec.Command("sealfs", "-fg", "-q", "-passfile", pw, cipher, mnt)
	server.Env = append(os.Environ(), "GORACE="+goRace())
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); !mounted(mnt); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the mount did not appear")
		}
	}

	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n int) []byte { return randomBytes(rng, n) }
	want := map[string][]byte{}
	writeSync := func(name string, data []byte, off int64) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(mnt, name), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		old := want[name]
		if end := int(off) + len(data); end > len(old) {
			old = append(old, make([]byte, end-len(old))...)
		}
		copy(old[off:], data)
		want[name] = old
		// The file stays open: the process dies with it open.
		t.Cleanup(func() { f.Close() })
	}
	if err := os.MkdirAll(filepath.Join(mnt, "dir/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{1, 4096, 4097, 200_000} {
		writeSync("f"+strconv.Itoa(i), random(size), 0)
	}
	writeSync("dir/sub/rewritten", random(100_000), 0)
	writeSync("dir/sub/rewritten", random(5000), 40_000)  // in place, across blocks
	writeSync("dir/sub/rewritten", random(3000), 150_000) // grows with a hole
	dirSync := func(dir string) {
		fd, err := os.Open(filepath.Join(mnt, dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := fd.Sync(); err != nil {
			t.Fatal(err)
		}
		fd.Close()
	}
	dirSync(".")
	dirSync("dir/sub")
	// Unsynced writes in flight when the process dies.
	pending, err := os.Create(filepath.Join(mnt, "pending"))
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	pendingData := random(300_000)
	pending.Write(pendingData)

	if err := server.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	pending.Close()
	sh(t, "", "fusermount3", "-u", "-z", mnt)
	if mounted(mnt) {
		t.Fatal("the dead mount is still there after fusermount3 -u -z")
	}

	// Mount again; every fsync'ed byte is there.
	sh(t, "", "sealfs", "-q", "-passfile", pw, cipher, mnt)
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s after kill -9: err %v, %d bytes, want %d, equal %v", name, err, len(got), len(data), bytes.Equal(got, data))
		}
	}
	// Writing works again.
	if err := os.WriteFile(filepath.Join(mnt, "after"), []byte("after"), 0o644); err != nil {
		t.Errorf("writing after the remount: %v", err)
	}
	// The unsynced file may be short, but what it holds is right.
	if _, err := os.Stat(filepath.Join(mnt, "pending")); err == nil {
		checkPrefix(t, filepath.Join(mnt, "pending"), pendingData)
	}
	sh(t, "", "sealfs", "unmount", mnt)
	fsckVault(t, cipher, pw)
}
