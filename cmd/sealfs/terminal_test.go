//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty returns the controller and the terminal side of a new
// pseudo-terminal.
func openPty(t *testing.T) (ctrl, tty *os.File) {
	t.Helper()
	ctrl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ctrl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctrl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctrl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ctrl, tty
}

func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return st.Lflag&unix.ECHO != 0
}

// TestTerminalPassword reads passwords from a pseudo-terminal: no echo
// while reading, echo restored afterwards, and Ctrl-C (a cancelled
// context) interrupts a pending prompt and restores the terminal.
func TestTerminalPassword(t *testing.T) {
	ctrl, tty := openPty(t)
	var stderr bytes.Buffer
	e := newEnv(tty, &bytes.Buffer{}, &stderr)
	if e.stdinFd < 0 {
		t.Fatal("pty not detected as a terminal")
	}
	if !echoOn(t, tty) {
		t.Fatal("echo off before the test")
	}

	go ctrl.Write([]byte("secret\nsecret\n"))
	pw, err := e.readPassword(context.Background(), &secretFlags{}, true)
	if err != nil || string(pw) != "secret" {
		t.Fatalf("readPassword = %q, %v", pw, err)
	}
	if got := stderr.String(); got != "Password: \nRepeat: \n" {
		t.Errorf("prompts %q", got)
	}
	if !echoOn(t, tty) {
		t.Error("echo not restored")
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = e.readPassword(ctx, &secretFlags{}, false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted prompt: %v", err)
	}
	if !echoOn(t, tty) {
		t.Error("echo not restored after the interrupt")
	}
	// (The abandoned read stays blocked on the terminal; in the program
	// the process exits right after an interrupt.)
}
