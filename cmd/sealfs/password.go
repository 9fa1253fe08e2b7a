package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/term"

	"github.com/sealfs/sealfs/vault"
)

// maxPasswordLen is the longest password accepted, in bytes (gocryptfs'
// limit, FORMAT.md §14.1).
const maxPasswordLen = 2048

// stringList is a repeatable string option.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " ") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// secretFlags are the options that say where the password or the master
// key comes from.
type secretFlags struct {
	passfile  stringList
	extpass   stringList
	masterkey string
	zerokey   bool   // gocryptfs' -zerokey: the all-zero master key
	fido2     string // -fido2 DEVICE: a FIDO2 token's hmac-secret is the password

	// Set from the vault's config by forConfig: the token parameters of a
	// FIDO2 vault. fido2Secret is the secret a background mount got from
	// its parent.
	fido2Params *vault.FIDO2Params
	fido2Secret []byte
}

// forConfig checks the unlock options against the config of the vault to
// open: a FIDO2 vault needs -fido2 DEVICE (or a key), and -fido2 a FIDO2
// vault. readPassword then asks the token.
func (s *secretFlags) forConfig(cfg *vault.Config) error {
	if s.keyGiven() {
		return nil
	}
	switch {
	case cfg.FIDO2 != nil && s.fido2 == "" && s.fido2Secret == nil:
		return usageErrorf("the master key is encrypted with a FIDO2 token (gocryptfs -init -fido2): give -fido2 DEVICE, or -masterkey")
	case cfg.FIDO2 == nil && s.fido2 != "":
		return usageErrorf("-fido2: this vault is unlocked with a password, not a FIDO2 token")
	}
	s.fido2Params = cfg.FIDO2
	return nil
}

// keyGiven reports whether the master key comes from the command line
// (-masterkey or -zerokey), so that no password is asked for.
func (s *secretFlags) keyGiven() bool { return s.masterkey != "" || s.zerokey }

// Usage texts of -masterkey.
const (
	masterKeyUnlockUsage = "unlock with the master `KEY` (64 hex digits, dashes and spaces ignored) instead of a password; \"stdin\" reads it like a password"
	masterKeyInitUsage   = "use `KEY` (64 hex digits, dashes and spaces ignored) as the master key instead of a random one; \"stdin\" reads it like a password"
)

// register adds -passfile and -extpass, and -masterkey with the given usage
// text unless it is empty.
func (s *secretFlags) register(fs *flag.FlagSet, masterKeyUsage string) {
	fs.Var(&s.passfile, "passfile", "read the password from the first line of `FILE` (repeatable: the first lines are concatenated)")
	fs.Var(&s.extpass, "extpass", "run `CMD` and use the first line of its output as the password (one argument is split on spaces; repeat the option to give arguments verbatim)")
	if masterKeyUsage != "" {
		fs.StringVar(&s.masterkey, "masterkey", "", masterKeyUsage)
	}
	fs.StringVar(&s.fido2, "fido2", "", "the password is the hmac-secret of the FIDO2 token `DEVICE` (through libfido2's fido2-cred and fido2-assert, as in gocryptfs)")
	if masterKeyUsage == masterKeyUnlockUsage {
		fs.BoolVar(&s.zerokey, "zerokey", false, "unlock with the all-zero master key: no security at all, for automated tests (as in gocryptfs)")
	}
}

// validate rejects combinations gocryptfs rejects (exit code 1).
func (s *secretFlags) validate() error {
	if len(s.passfile) > 0 && len(s.extpass) > 0 {
		return usageErrorf("-passfile and -extpass cannot be used together")
	}
	if s.fido2 != "" && (len(s.passfile) > 0 || len(s.extpass) > 0 || s.masterkey != "" || s.zerokey) {
		return usageErrorf("-fido2 cannot be used together with -passfile, -extpass, -masterkey or -zerokey")
	}
	if s.zerokey && s.masterkey != "" {
		return usageErrorf("-zerokey and -masterkey cannot be used together")
	}
	if s.keyGiven() && (len(s.passfile) > 0 || len(s.extpass) > 0) {
		if s.zerokey {
			return usageErrorf("-zerokey cannot be used together with -passfile or -extpass")
		}
		return usageErrorf("-masterkey cannot be used together with -passfile or -extpass")
	}
	return nil
}

// readPassword reads a password from the first source that applies:
// -passfile, -extpass, stdin when it is not a terminal, or a prompt on the
// terminal (twice when confirm is set, for a new password). The caller
// must clear the returned slice when done. Errors are marked errPassword
// (exit code 9); an empty password is an error.
func (e *env) readPassword(ctx context.Context, s *secretFlags, confirm bool) ([]byte, error) {
	switch {
	case s.fido2Secret != nil:
		// The caller clears it, as any password.
		pw := s.fido2Secret
		s.fido2Secret = nil
		return pw, nil
	case s.fido2Params != nil:
		return e.fido2Secret(ctx, s.fido2, s.fido2Params)
	}
	var pw []byte
	var err error
	switch {
	case len(s.passfile) > 0:
		pw, err = e.readPassfiles(s.passfile)
	case len(s.extpass) > 0:
		pw, err = e.readExtpass(ctx, s.extpass)
	case e.stdinFd >= 0:
		pw, err = e.readTerminal(ctx, "Password: ", confirm)
	default:
		e.infof("Reading password from stdin\n")
		pw, err = readLine(e.stdin, maxPasswordLen)
		if err != nil {
			err = fmt.Errorf("stdin: %w", err)
		}
	}
	if err != nil {
		clear(pw)
		return nil, mark(errPassword, err)
	}
	if len(pw) == 0 {
		return nil, mark(errPassword, errors.New("password is empty"))
	}
	return pw, nil
}

// readPassfiles concatenates the first lines of the files.
func (e *env) readPassfiles(files []string) ([]byte, error) {
	var pw []byte
	for _, name := range files {
		e.infof("passfile: reading from file %q\n", name)
		line, extra, err := readPassfile(name)
		if err != nil {
			clear(pw)
			return nil, err
		}
		if extra {
			e.warnf("passfile: %q: only the first line is used as the password\n", name)
		}
		if len(line) == 0 {
			clear(pw)
			return nil, fmt.Errorf("passfile: %q: empty first line", name)
		}
		if len(pw)+len(line) > maxPasswordLen {
			clear(pw)
			clear(line)
			return nil, fmt.Errorf("passfile: password longer than %d bytes", maxPasswordLen)
		}
		grown := append(make([]byte, 0, len(pw)+len(line)), pw...)
		grown = append(grown, line...)
		clear(pw)
		clear(line)
		pw = grown
	}
	return pw, nil
}

// readPassfile returns the first line of a file; extra reports that more
// lines follow.
func readPassfile(name string) (line []byte, extra bool, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, false, fmt.Errorf("passfile: %w", err)
	}
	defer f.Close()
	line, err = readLine(f, maxPasswordLen)
	if err != nil {
		return nil, false, fmt.Errorf("passfile: %q: %w", name, err)
	}
	var b [1]byte
	n, _ := f.Read(b[:])
	return line, n > 0, nil
}

// readExtpass runs the external program and returns the first line of its
// output.
func (e *env) readExtpass(ctx context.Context, args []string) ([]byte, error) {
	argv := []string(args)
	if len(argv) == 1 {
		argv = strings.Split(argv[0], " ")
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("extpass: empty command")
	}
	e.infof("Reading password from extpass program %q, arguments: %q\n", argv[0], argv[1:])
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if f, ok := e.stdin.(*os.File); ok {
		cmd.Stdin = f
	}
	cmd.Stderr = e.stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	defer clear(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("extpass: %w", err)
	}
	line, err := readLine(&out, maxPasswordLen)
	if err != nil {
		return nil, fmt.Errorf("extpass: %w", err)
	}
	return line, nil
}

// readTerminal prompts on stderr and reads without echo from the terminal
// on stdin.
func (e *env) readTerminal(ctx context.Context, prompt string, confirm bool) ([]byte, error) {
	fmt.Fprint(e.stderr, prompt)
	pw, err := e.readNoEcho(ctx)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	if len(pw) > maxPasswordLen {
		clear(pw)
		return nil, fmt.Errorf("password longer than %d bytes", maxPasswordLen)
	}
	if !confirm || len(pw) == 0 {
		return pw, nil
	}
	fmt.Fprint(e.stderr, "Repeat: ")
	again, err := e.readNoEcho(ctx)
	fmt.Fprintln(e.stderr)
	defer clear(again)
	if err != nil {
		clear(pw)
		return nil, fmt.Errorf("terminal: %w", err)
	}
	if !bytes.Equal(pw, again) {
		clear(pw)
		return nil, errors.New("passwords do not match")
	}
	return pw, nil
}

// readNoEcho reads a line from the terminal without echo. When ctx ends
// first (Ctrl-C), it restores the terminal and returns ctx.Err(); the
// blocked read is abandoned.
func (e *env) readNoEcho(ctx context.Context) ([]byte, error) {
	state, err := term.GetState(e.stdinFd)
	if err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(e.stdinFd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		term.Restore(e.stdinFd, state)
		return nil, ctx.Err()
	}
}

// readLine reads up to the first newline or EOF, one byte at a time so that
// the rest of r stays unread (the next line may hold another password).
// A line longer than max bytes is an error.
func readLine(r io.Reader, max int) ([]byte, error) {
	buf := make([]byte, 0, 64)
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(buf) == max {
				clear(buf)
				return nil, fmt.Errorf("password longer than %d bytes", max)
			}
			if len(buf) == cap(buf) {
				grown := append(make([]byte, 0, 2*cap(buf)), buf...)
				clear(buf)
				buf = grown
			}
			buf = append(buf, b[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
	}
	b[0] = 0
	return buf, nil
}

// masterKey returns the key given with -masterkey, or nil when the option
// is not set. Errors are marked errMasterKey (exit code 14), or
// errPassword when "-masterkey stdin" cannot be read.
func (e *env) masterKey(ctx context.Context, s *secretFlags) (*vault.Key, error) {
	text := s.masterkey
	if s.zerokey {
		e.infof("Using all-zero dummy master key.\n")
		e.warnf("the all-zero master key provides no security at all: use it for tests only\n")
		text = strings.Repeat("0", 64)
	}
	switch text {
	case "":
		return nil, nil
	case "stdin":
		var line []byte
		var err error
		if e.stdinFd >= 0 {
			line, err = e.readTerminal(ctx, "Master key: ", false)
		} else {
			line, err = readLine(e.stdin, maxPasswordLen)
		}
		if err != nil {
			return nil, mark(errPassword, fmt.Errorf("reading the master key: %w", err))
		}
		text = string(line)
		clear(line)
	}
	key, err := vault.ParseKey(text)
	if err != nil {
		return nil, mark(errMasterKey, fmt.Errorf("-masterkey: %w", err))
	}
	return key, nil
}

// formatMasterKey returns the master key display of gocryptfs -init
// (FORMAT.md §14.2): eight dash-joined groups of eight hex digits, four
// groups per line, each line indented by four spaces.
func formatMasterKey(hexKey string) string {
	var groups []string
	for i := 0; i < len(hexKey); i += 8 {
		groups = append(groups, hexKey[i:min(i+8, len(hexKey))])
	}
	var b strings.Builder
	for i := 0; i < len(groups); i += 4 {
		line := strings.Join(groups[i:min(i+4, len(groups))], "-")
		if i+4 < len(groups) {
			line += "-"
		}
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
