package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/sealfs/sealfs/vault"
)

// FIDO2 tokens, through libfido2's command-line tools as gocryptfs uses
// them (FORMAT.md §3.7): at init, fido2-cred registers a credential for
// the relying party "gocryptfs"; to unlock, fido2-assert returns the
// token's hmac-secret for the credential and the vault's salt, and those
// bytes take the place of the password.

const fido2RelyingParty = "gocryptfs"

// b64 is the encoding of every binary field the tools read and print.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// fido2Tool runs a fido2 tool with the given input lines and returns the
// lines it printed. The tool talks to the user (touch, PIN) on the
// terminal and on stderr.
func (e *env) fido2Tool(ctx context.Context, name string, args []string, input ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = e.stderr
	if err := cmd.Run(); err != nil {
		return nil, mark(errFIDO2, fmt.Errorf("%s: %w", name, err))
	}
	return strings.Split(out.String(), "\n"), nil
}

// fido2Field decodes line n (counting from 1) of a tool's output.
func fido2Field(name string, lines []string, n int) ([]byte, error) {
	if len(lines) < n {
		return nil, mark(errFIDO2, fmt.Errorf("%s printed %d lines, want at least %d", name, len(lines), n))
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(lines[n-1]))
	if err != nil || len(b) == 0 {
		return nil, mark(errFIDO2, fmt.Errorf("%s: line %d is not base64 data", name, n))
	}
	return b, nil
}

func random32() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// fido2Register makes a new credential on device for the vault named
// user (the base name of CIPHERDIR) and returns its ID.
func (e *env) fido2Register(ctx context.Context, device, user string) ([]byte, error) {
	e.infof("FIDO2 Register: interact with your device ...\n")
	lines, err := e.fido2Tool(ctx, "fido2-cred", []string{"-M", "-h", device},
		b64(random32()), fido2RelyingParty, user, b64(random32()))
	if err != nil {
		return nil, err
	}
	// Client data hash, relying party, format, authenticator data,
	// credential ID, ...
	return fido2Field("fido2-cred", lines, 5)
}

// fido2Secret asks the token on device for the hmac-secret of the vault
// described by p: the bytes that unlock it instead of a password.
func (e *env) fido2Secret(ctx context.Context, device string, p *vault.FIDO2Params) ([]byte, error) {
	e.infof("FIDO2 Secret: interact with your device ...\n")
	args := []string{"-G", "-h"}
	for _, o := range p.AssertOptions {
		args = append(args, "-t", o)
	}
	args = append(args, device)
	lines, err := e.fido2Tool(ctx, "fido2-assert", args,
		b64(random32()), fido2RelyingParty, b64(p.CredentialID), b64(p.HMACSalt))
	if err != nil {
		return nil, err
	}
	// Client data hash, relying party, authenticator data, signature,
	// hmac-secret.
	secret, err := fido2Field("fido2-assert", lines, 5)
	if err != nil {
		return nil, err
	}
	if len(secret) < 32 || !slices.ContainsFunc(secret, func(b byte) bool { return b != 0 }) {
		clear(secret)
		return nil, mark(errFIDO2, fmt.Errorf("fido2-assert returned an unusable hmac-secret (%d bytes)", len(secret)))
	}
	return secret, nil
}
