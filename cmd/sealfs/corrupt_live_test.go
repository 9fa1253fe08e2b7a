//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveFG runs "sealfs -fg" on cipher and mnt with its stderr in log and
// returns a function that unmounts and waits for the process to end.
func serveFG(t *testing.T, pw, cipher, mnt string, log *syncBuffer) (stop func()) {
	t.Helper()
	lazyUnmountAtEnd(t, mnt)
	server := exec.Command("sealfs", "-fg", "-q", "-passfile", pw, cipher, mnt)
	server.Env = append(os.Environ(), "GORACE="+goRace())
	server.Stderr = log
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); !mounted(mnt); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("the server ended before mounting: %v\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the mount did not appear")
		}
	}
	return func() {
		t.Helper()
		if err := unmountDir(mnt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("server: %v\n%s", err, log)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not end after unmount")
		}
	}
}

// TestMountLogsCorruption: through a mount, a tampered block gives EIO
// (never data) and an undecryptable name is left out of the listing, and
// each gets a log line naming the object.
func TestMountLogsCorruption(t *testing.T) {
	needFUSE(t)
	cipher, mnt, pw := newVaultDirs(t)

	var log syncBuffer
	stop := serveFG(t, pw, cipher, mnt, &log)
	for _, n := range []string{"victim.txt", "named.txt", "fine.txt"} {
		if err := os.WriteFile(filepath.Join(mnt, n), bytes.Repeat([]byte(n), 2000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	cpath := func(p string) string {
		return filepath.Join(cipher, strings.TrimSpace(sh(t, "", "sealfs", "encrypt-path", "-q", "-passfile", pw, cipher, p)))
	}
	// A flipped byte in the second block of victim.txt.
	victim := cpath("victim.txt")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	data[18+4128+100] ^= 0x40
	if err := os.WriteFile(victim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// named.txt under a name that is valid base64 but decrypts to nothing.
	// (EME names carry no authentication: noise passes the padding check
	// about once in 256 directory IVs, so the name is checked first.)
	bogus := ""
	for _, c := range "ABCDEFGH" {
		n := strings.Repeat(string(c), 22)
		if _, err := shErr("", "sealfs", "decrypt-path", "-q", "-passfile", pw, cipher, n); err != nil {
			bogus = n
			break
		}
	}
	if bogus == "" {
		t.Fatal("every candidate name decrypts")
	}
	if err := os.Rename(cpath("named.txt"), filepath.Join(cipher, bogus)); err != nil {
		t.Fatal(err)
	}

	stop = serveFG(t, pw, cipher, mnt, &log)
	ents, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "fine.txt victim.txt" {
		t.Errorf("listing: %q, want fine.txt and victim.txt only", names)
	}
	got, err := os.ReadFile(filepath.Join(mnt, "victim.txt"))
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("reading the tampered file: %d bytes, %v; want EIO", len(got), err)
	}
	if fine, err := os.ReadFile(filepath.Join(mnt, "fine.txt")); err != nil || !bytes.Equal(fine, bytes.Repeat([]byte("fine.txt"), 2000)) {
		t.Errorf("the intact file: %v", err)
	}
	stop()

	out := log.String()
	for _, want := range []string{"victim.txt", bogus, "corrupt"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
