// Package ctlsock implements the gocryptfs control socket protocol
// (FORMAT.md §12): clients such as gocryptfs-xray -encrypt-paths send one
// JSON request per message, {"EncryptPath": "..."} or {"DecryptPath":
// "..."}, and get one JSON response line back. Any Mapper serves it: a
// forward *sealfs.FS or a reverse *reverse.FS.
package ctlsock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/names"
)

// Mapper translates paths between plaintext and ciphertext. Paths are
// io/fs paths relative to the root ("." for the root).
type Mapper interface {
	EncryptPath(plain string) (string, error)
	DecryptPath(cipher string) (string, error)
}

// Request is one client request; exactly one field is set.
type Request struct {
	EncryptPath string `json:",omitempty"`
	DecryptPath string `json:",omitempty"`
}

// Response is the answer to a request; every field is always sent.
type Response struct {
	Result   string
	ErrNo    int32
	ErrText  string
	WarnText string
}

// maxRequest is the largest request a single read takes; gocryptfs closes
// the connection on a read of 5000 bytes or more.
const maxRequest = 5000

// canonical cleans a request path the way gocryptfs does: leading
// slashes dropped, cleaned, "." and anything climbing above the root
// becoming empty.
func canonical(in string) string {
	p := strings.TrimLeft(in, "/")
	if p == "" {
		return ""
	}
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return ""
	}
	return p
}

// errResponse fills ErrNo and ErrText from an error.
func errResponse(r *Response, err error) {
	var errno syscall.Errno
	switch {
	case errors.Is(err, names.ErrInvalidName):
		r.ErrNo, r.ErrText = -1, syscall.EBADMSG.Error()
	case errors.As(err, &errno):
		r.ErrNo, r.ErrText = int32(errno), errno.Error()
	case errors.Is(err, fs.ErrNotExist):
		r.ErrNo, r.ErrText = int32(syscall.ENOENT), syscall.ENOENT.Error()
	default:
		r.ErrNo, r.ErrText = -1, err.Error()
	}
}

// Handle answers one raw request.
func Handle(m Mapper, raw []byte) Response {
	var req Request
	var resp Response
	if err := json.Unmarshal(raw, &req); err != nil {
		resp.ErrNo, resp.ErrText = -1, "JSON Unmarshal error: "+err.Error()
		return resp
	}
	in := req.EncryptPath
	switch {
	case req.EncryptPath != "" && req.DecryptPath != "":
		resp.ErrNo, resp.ErrText = -1, "Ambiguous"
		return resp
	case req.EncryptPath == "" && req.DecryptPath == "":
		resp.ErrNo, resp.ErrText = -1, "Empty input"
		return resp
	case req.DecryptPath != "":
		in = req.DecryptPath
	}
	clean := canonical(in)
	if clean != in {
		resp.WarnText = fmt.Sprintf("Non-canonical input path '%s' has been interpreted as '%s'.", in, clean)
	}
	if clean == "" {
		resp.ErrNo, resp.ErrText = -1, "Empty input after canonicalization"
		return resp
	}
	var out string
	var err error
	if req.EncryptPath != "" {
		out, err = m.EncryptPath(clean)
	} else {
		out, err = m.DecryptPath(clean)
	}
	if err != nil {
		errResponse(&resp, err)
		return resp
	}
	resp.Result = out
	return resp
}

// Encode returns the wire form of a response: JSON and a newline.
func (r Response) Encode() []byte {
	b, _ := json.Marshal(r) // cannot fail for this type
	return append(b, '\n')
}

// Listen creates the socket at socketPath with mode 0600, removing a stale
// socket left by a crashed instance (but no other kind of file).
func Listen(socketPath string) (net.Listener, error) {
	if fi, err := os.Lstat(socketPath); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, &fs.PathError{Op: "listen", Path: socketPath, Err: syscall.EEXIST}
		}
		if c, err := net.DialTimeout("unix", socketPath, time.Second); err == nil {
			c.Close()
			return nil, &fs.PathError{Op: "listen", Path: socketPath, Err: syscall.EADDRINUSE}
		}
		os.Remove(socketPath)
	}
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(socketPath, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve answers requests on l until ctx is done or l is closed. Each
// connection may send any number of requests, one per read.
func Serve(ctx context.Context, l net.Listener, m Mapper) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, m)
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, m Mapper) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	buf := make([]byte, maxRequest)
	for {
		n, err := c.Read(buf)
		if err != nil || n >= maxRequest {
			return
		}
		if _, err := c.Write(Handle(m, buf[:n]).Encode()); err != nil {
			return
		}
	}
}
