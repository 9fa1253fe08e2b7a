package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

// Exit codes. The numbers are gocryptfs' (FORMAT.md §13), so scripts written
// for gocryptfs keep working.
const (
	exitOK                = 0
	exitUsage             = 1  // bad command line
	exitCipherDir         = 6  // CIPHERDIR missing, not a directory, or not empty on init
	exitInit              = 7  // init-time error (reverse config exists, .bak not creatable)
	exitLoadConf          = 8  // info: the config could not be loaded
	exitReadPassword      = 9  // password could not be read, or is empty
	exitTargetDir         = 10 // destination directory not empty / invalid
	exitOther             = 11 // everything else
	exitPasswordIncorrect = 12 // wrong password
	exitMasterKey         = 14 // -masterkey unparsable
	exitSigInt            = 15 // interrupted by SIGINT/SIGTERM
	exitMount             = 19 // the FUSE mount itself failed
	exitCtlSock           = 20 // the control socket could not be created
	exitOpenConf          = 23 // config file missing or unreadable
	exitWriteConf         = 24 // config could not be written; invalid init flag combination
	exitConfigInvalid     = 27 // config fails validation
	exitExclude           = 29 // bad exclusion options (unreadable -exclude-from, ...)
	exitFIDO2             = 31 // a FIDO2 tool (fido2-cred, fido2-assert) failed
)

// Error kinds. Command code marks an error with a kind (see mark); the
// library's own sentinels are recognised directly. exitCode is the only
// place that turns errors into numbers.
var (
	errUsage     = errors.New("usage error")
	errCipherDir = errors.New("invalid cipher directory")
	errInit      = errors.New("init failed")
	errLoadConf  = errors.New("loading config file failed")
	errPassword  = errors.New("cannot read password")
	errTargetDir = errors.New("invalid target directory")
	errMasterKey = errors.New("invalid master key")
	errOpenConf  = errors.New("cannot open config file")
	errWriteConf = errors.New("cannot write config file")
	errMount     = errors.New("mount failed")
	errCtlSock   = errors.New("cannot create the control socket")
	errExclude   = errors.New("bad exclusion options")
	errFIDO2     = errors.New("FIDO2 token failed")
	// errInterrupted: a mount ended by SIGINT/SIGTERM (exit code 15).
	errInterrupted = errors.New("unmounted by a signal")
)

// exitCodeError passes on the exit code of a background mount process,
// which has already printed its own error message.
type exitCodeError int

func (e exitCodeError) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// exitCode maps an error returned by a command to the process exit code.
// The order of the cases matters: an explicit kind set by the command
// wins over the library sentinel it wraps.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(exitCodeError)):
		var ec exitCodeError
		errors.As(err, &ec)
		return int(ec)
	case errors.Is(err, errMount):
		return exitMount
	case errors.Is(err, errCtlSock):
		return exitCtlSock
	case errors.Is(err, errS3Bucket):
		return exitS3Bucket
	case errors.Is(err, errS3Access):
		return exitS3Access
	case errors.Is(err, errS3Endpoint):
		return exitS3Endpoint
	case errors.Is(err, errS3Cache):
		return exitS3Cache
	case errors.Is(err, errExclude):
		return exitExclude
	case errors.Is(err, errFIDO2):
		return exitFIDO2
	case errors.Is(err, errInterrupted):
		return exitSigInt
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errLoadConf):
		return exitLoadConf
	case errors.Is(err, errCipherDir):
		return exitCipherDir
	case errors.Is(err, errInit):
		return exitInit
	case errors.Is(err, errWriteConf):
		return exitWriteConf
	case errors.Is(err, errMasterKey), errors.Is(err, vault.ErrBadKey):
		return exitMasterKey
	case errors.Is(err, errPassword):
		return exitReadPassword
	case errors.Is(err, errTargetDir):
		return exitTargetDir
	case errors.Is(err, vault.ErrWrongPassword):
		return exitPasswordIncorrect
	case errors.Is(err, vault.ErrUnknownFeature),
		errors.Is(err, vault.ErrWeakParameters),
		errors.Is(err, vault.ErrUnsupportedVersion),
		errors.Is(err, vault.ErrInvalidConfig):
		return exitConfigInvalid
	case errors.Is(err, errOpenConf):
		return exitOpenConf
	case errors.Is(err, sealfs.ErrNotEmpty):
		return exitCipherDir
	case errors.Is(err, context.Canceled):
		return exitSigInt
	default:
		return exitOther
	}
}

// kindError attaches an error kind to an error without changing its
// message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() []error {
	return []error{e.err, e.kind}
}

// mark returns err marked with kind, so that errors.Is(result, kind)
// holds. It returns nil for a nil err.
func mark(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

// usageErrorf returns a usage error (exit code 1) with a message.
func usageErrorf(format string, args ...any) error {
	return mark(errUsage, fmt.Errorf(format, args...))
}
