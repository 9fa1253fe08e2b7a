//go:build linux

// Package testuring switches the fuse module's enable_uring parameter on
// for tests that need FUSE-over-io_uring, and back to what it was when no
// test process needs it any more.
//
// The parameter is global and "go test ./..." runs packages in parallel,
// so the test processes share the switch: each holds a shared lock on a
// file while it needs the parameter on, and the last one to let go puts
// back the value that the first one found. A mount keeps its transport
// once it has started, so switching the parameter off only matters to
// mounts that start afterwards.
//
// It is used only by tests.
package testuring

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Param is the fuse module's parameter.
const Param = "/sys/module/fuse/parameters/enable_uring"

// SwitchOn turns enable_uring on until t and its subtests are done. It
// skips t on a kernel without FUSE-over-io_uring (before Linux 6.14, or
// built without it).
func SwitchOn(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Param); err != nil {
		t.Skipf("kernel without FUSE-over-io_uring (%v)", err)
	}
	base := filepath.Join(os.TempDir(), "sealfs-test-enable_uring")
	mu, err := lockFile(base+".lock", unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer mu.Close()
	users, err := lockFile(base+".users", unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	saved := base + ".was"
	if _, err := os.Stat(saved); errors.Is(err, fs.ErrNotExist) {
		old, err := os.ReadFile(Param)
		if err == nil {
			err = os.WriteFile(saved, old, 0o600)
		}
		if err != nil {
			users.Close()
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(Param, []byte("Y"), 0); err != nil {
		users.Close()
		t.Fatalf("switching on %s: %v", Param, err)
	}
	t.Cleanup(func() {
		mu, err := lockFile(base+".lock", unix.LOCK_EX)
		if err != nil {
			users.Close()
			t.Error(err)
			return
		}
		defer mu.Close()
		defer users.Close()
		if unix.Flock(int(users.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			return // another test process still needs it
		}
		old, err := os.ReadFile(saved)
		if err == nil {
			err = os.WriteFile(Param, old, 0)
		}
		if err == nil {
			err = os.Remove(saved)
		}
		if err != nil {
			t.Errorf("putting %s back: %v", Param, err)
		}
	})
}

// lockFile opens (creating) the file at path and flocks it with how.
func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}
