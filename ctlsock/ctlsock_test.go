package ctlsock

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/internal/testvault/testkey"
	"github.com/sealfs/sealfs/reverse"
)

func forward(t *testing.T, name string) Mapper {
	f, err := sealfs.Open(testvault.Copy(t, name), []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func reverseView(t *testing.T, name string) Mapper {
	plain := testvault.CopyPlain(t, name)
	cfg, key := testkey.Reverse(t, plain)
	v, err := reverse.New(os.DirFS(plain), cfg, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The answers equal gocryptfs' byte for byte: the recorded transcripts
// (edge cases) and the path maps of every golden vault.
func TestGolden(t *testing.T) {
	for _, name := range append(append([]string{}, testvault.Forward...), testvault.Reverse...) {
		t.Run(name, func(t *testing.T) {
			var m Mapper
			if strings.HasPrefix(name, "reverse") {
				m = reverseView(t, name)
			} else {
				m = forward(t, name)
			}
			for _, x := range testvault.Transcript(t, name) {
				if got := string(Handle(m, []byte(x.Request)).Encode()); got != x.Response {
					t.Errorf("%s:\n got  %s want %s", x.Request, got, x.Response)
				}
			}
			for _, e := range testvault.CipherMap(t, name) {
				req, _ := json.Marshal(Request{EncryptPath: e.Plain})
				if r := Handle(m, req); r.Result != e.Cipher || r.ErrNo != 0 {
					t.Errorf("EncryptPath %q: %+v, want %q", e.Plain, r, e.Cipher)
				}
				req, _ = json.Marshal(Request{DecryptPath: e.Cipher})
				if r := Handle(m, req); r.Result != e.Decrypted || r.ErrNo != 0 {
					t.Errorf("DecryptPath %q: %+v, want %q", e.Cipher, r, e.Decrypted)
				}
			}
		})
	}
}

func TestServe(t *testing.T) {
	m := forward(t, "default")
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(sock); fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v", fi.Mode())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, l, m) }()

	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for _, x := range testvault.Transcript(t, "default") {
		c.Write([]byte(x.Request))
		line, err := r.ReadString('\n')
		if err != nil || line != x.Response {
			t.Fatalf("%s: %q %v", x.Request, line, err)
		}
	}
	// An oversized request closes the connection.
	c.Write([]byte(`{"EncryptPath":"` + strings.Repeat("a", 6000) + `"}`))
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("oversized request answered")
	}
	c.Close()
	// A second instance on a live socket is refused; a stale one is replaced.
	if _, err := Listen(sock); err == nil {
		t.Error("Listen on a live socket succeeded")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l2, err := Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
	regular := filepath.Join(t.TempDir(), "file")
	os.WriteFile(regular, nil, 0o600)
	if _, err := Listen(regular); err == nil {
		t.Error("Listen replaced a regular file")
	}
}

func FuzzHandle(f *testing.F) {
	f.Add([]byte(`{"EncryptPath":"a/b"}`))
	f.Add([]byte(`{"DecryptPath":"../x"}`))
	f.Add([]byte(`garbage`))
	m := mapFunc{}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := Handle(m, raw)
		if r.ErrNo == 0 && r.Result == "" {
			t.Fatal("success without a result")
		}
		var back Response
		if err := json.Unmarshal(r.Encode(), &back); err != nil {
			t.Fatal(err)
		}
	})
}

type mapFunc struct{}

func (mapFunc) EncryptPath(p string) (string, error) { return "C/" + p, nil }
func (mapFunc) DecryptPath(p string) (string, error) { return "P/" + p, nil }
