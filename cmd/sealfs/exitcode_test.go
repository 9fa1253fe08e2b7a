package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

func TestExitCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"usage", usageErrorf("bad %s", "flag"), 1},
		{"usage wrapped", wrap(usageErrorf("x")), 1},
		{"cipherdir", mark(errCipherDir, fs.ErrNotExist), 6},
		{"create not empty", &fs.PathError{Op: "create", Path: "d", Err: sealfs.ErrNotEmpty}, 6},
		{"init", mark(errInit, fs.ErrExist), 7},
		{"passwd backup", mark(errInit, wrap(syscall.EEXIST)), 7},
		{"info load", mark(errLoadConf, wrap(vault.ErrUnknownFeature)), 8},
		{"info missing", mark(errLoadConf, fs.ErrNotExist), 8},
		{"password", mark(errPassword, io.ErrUnexpectedEOF), 9},
		{"password empty", mark(errPassword, errors.New("password is empty")), 9},
		{"target dir", mark(errTargetDir, syscall.ENOTDIR), 10},
		{"other", errors.New("boom"), 11},
		{"not exist outside config", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, 11},
		{"corrupt", wrap(sealfs.ErrCorrupt), 11},
		{"wrong password", wrap(vault.ErrWrongPassword), 12},
		{"master key", mark(errMasterKey, errors.New("odd length")), 14},
		{"canceled", wrap(context.Canceled), 15},
		{"config missing", mark(errOpenConf, &fs.PathError{Op: "open", Path: "gocryptfs.conf", Err: fs.ErrNotExist}), 23},
		{"config unreadable", mark(errOpenConf, fs.ErrPermission), 23},
		{"write config", mark(errWriteConf, syscall.EROFS), 24},
		{"init weak scrypt", mark(errWriteConf, vault.ErrWeakParameters), 24},
		{"unknown flag", mark(errOpenConf, wrap(vault.ErrUnknownFeature)), 27},
		{"weak scrypt", mark(errOpenConf, wrap(vault.ErrWeakParameters)), 27},
		{"version", wrap(vault.ErrUnsupportedVersion), 27},
		{"invalid", mark(errOpenConf, vault.ErrInvalidConfig), 27},
		{"ctlsock", mark(errCtlSock, syscall.EADDRINUSE), 20},
		{"exclude", mark(errExclude, fs.ErrNotExist), 29},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestMarkKeepsMessageAndCause checks that marking changes neither the
// message nor what the error wraps.
func TestMarkKeepsMessageAndCause(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}
	err := mark(errOpenConf, base)
	if err.Error() != base.Error() {
		t.Errorf("message %q, want %q", err, base)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != base {
		t.Errorf("errors.As does not find the wrapped *PathError")
	}
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, errOpenConf) {
		t.Errorf("errors.Is fails")
	}
	if mark(errUsage, nil) != nil {
		t.Errorf("mark(nil) != nil")
	}
}

// TestExitCodesDocumented checks that every exit code constant is in the
// table of the package documentation.
func TestExitCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{exitOK, exitUsage, exitCipherDir, exitInit, exitLoadConf, exitReadPassword,
		exitTargetDir, exitOther, exitPasswordIncorrect, exitMasterKey, exitSigInt, exitOpenConf,
		exitWriteConf, exitConfigInvalid, exitMount} {
		re := regexp.MustCompile(`(?m)^//\t *` + strconv.Itoa(code) + `  \S`)
		if !re.Match(doc) {
			t.Errorf("exit code %d is not documented in doc.go", code)
		}
	}
}
