package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/sealfs/sealfs/ctlsock"
)

// serveCtlsock creates the control socket at socketPath and answers
// path requests on it with m until the returned stop function is called,
// which closes the socket and removes its file. Failure to create it is
// exit code 20, as in gocryptfs.
func serveCtlsock(socketPath string, m ctlsock.Mapper) (stop func(), err error) {
	abs, err := filepath.Abs(socketPath)
	if err != nil {
		return nil, mark(errCtlSock, err)
	}
	l, err := ctlsock.Listen(abs)
	if err != nil {
		return nil, mark(errCtlSock, fmt.Errorf("control socket: %w", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctlsock.Serve(ctx, l, m)
	}()
	return func() {
		cancel()
		<-done
		l.Close() // removes the socket file
	}, nil
}
