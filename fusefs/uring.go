//go:build linux

package fusefs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sealfs/sealfs/fusefs/internal/transport"
)

// IOURingOffered reports whether a mount with Options.IOURing would be
// served over io_uring: the kernel offers FUSE-over-io_uring (the fuse
// module's enable_uring parameter is on) and this process may set up an
// io_uring with 128-byte entries (not barred by sysctl or seccomp).
func IOURingOffered() bool {
	return transport.Enabled() && transport.Probe() == nil
}

// A server is a mounted connection and how its requests are read.
type server struct {
	*fuse.Server
	dir  string          // the mount point, absolute
	ring *transport.Ring // nil unless the ring serves
	fd   int             // the mount's /dev/fuse descriptor for ServeDev, or -1
	raw  fuse.RawFileSystem
	cfg  transport.DevConfig
	log  *slog.Logger
}

// serve serves the connection until it ends: by ServeDev (alone, or
// beside the ring for what the kernel still sends on /dev/fuse: FORGET and
// INTERRUPT), or by go-fuse's own loop. go-fuse's loop runs last in every
// case: after the end of the connection it only cleans up.
func (s *server) serve() {
	if s.fd >= 0 {
		if err := transport.ServeDev(s.fd, s.raw, s.cfg); err != nil {
			s.log.Warn("serving /dev/fuse stopped; go-fuse's reader takes over", "err", err)
		}
	}
	s.Serve()
}

// newServer mounts raw at dir (mountDevFuse, then go-fuse serving the
// descriptor). With Options.IOURing where the kernel offers
// FUSE-over-io_uring, it starts the per-CPU queues before anything else
// is served. Otherwise /dev/fuse serves, read by ServeDev (one reader at
// a time), or by go-fuse's readers with go-fuse's request log (Debug) or
// with Options.GoFuseReaders.
func newServer(raw fuse.RawFileSystem, dir string, mo *fuse.MountOptions, r *root) (*server, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s := &server{dir: abs, fd: -1, raw: raw, log: r.log}
	wantRing := r.opts.IOURing
	if wantRing && !transport.Enabled() {
		r.log.Info("io_uring: the kernel does not offer FUSE over io_uring (fuse module parameter enable_uring is off or missing); serving /dev/fuse")
		wantRing = false
	}
	if wantRing {
		if err := transport.Probe(); err != nil {
			r.log.Info("io_uring: not available to this process; serving /dev/fuse", "err", err)
			wantRing = false
		}
	}
	ownReader := !mo.Debug && !r.opts.GoFuseReaders
	m := *mo
	if wantRing {
		m.ExtraCapabilities |= fuse.CAP_OVER_IO_URING
	}
	fd, err := mountDevFuse(abs, &m)
	if err != nil {
		return nil, err
	}
	srv, err := fuse.NewServer(raw, devFdMountPoint(fd), &m)
	if err != nil {
		unmountDir(abs)
		return nil, err
	}
	s.Server = srv
	payload := payloadSize(m.MaxWrite)
	if wantRing && srv.KernelSettings().Flags64()&fuse.CAP_OVER_IO_URING == 0 {
		r.log.Info("io_uring: the kernel did not offer FUSE over io_uring; serving /dev/fuse")
		wantRing = false
	}
	if wantRing {
		// From here the kernel holds every request until each CPU's
		// queue has an entry, or until a registration fails, which sends
		// it back to /dev/fuse for good.
		s.ring, err = transport.Start(fd, raw, transport.Config{
			Payload: payload,
			OnError: func(err error) { r.log.Warn("io_uring queue stopped", "err", err) },
		})
		if err == nil {
			r.log.Debug("io_uring: serving over per-CPU queues")
		} else {
			s.ring = nil
		}
		if err != nil {
			if transport.Refuse(fd) != nil {
				s.unmount()
				return nil, fmt.Errorf("io_uring: %w", err)
			}
			r.log.Warn("io_uring: setting up the queues failed; serving /dev/fuse", "err", err)
		}
	}
	// ServeDev reads /dev/fuse: all of it, or beside the ring what still
	// comes there (FORGET, INTERRUPT).
	if ownReader {
		s.fd = fd
		s.cfg = transport.DevConfig{Payload: payload}
	}
	return s, nil
}

// payloadSize is the kernel's largest request or reply payload for a
// connection with this max_write: max(max_write, max_pages × page size,
// 8 KiB), with max_pages as go-fuse asks for it (and go-fuse's 128 KiB
// for a max_write of 0).
func payloadSize(maxWrite int) int {
	if maxWrite <= 0 {
		maxWrite = 128 << 10
	}
	pg := os.Getpagesize()
	pages := (maxWrite-1)/pg + 1
	return max(maxWrite, pages*pg, 8192)
}

// waitMount waits until the mount serves (go-fuse's WaitMount) and then
// settles the POLL question with the kernel (pollHack), which go-fuse
// leaves out for a descriptor it did not mount itself.
func (s *server) waitMount() error {
	if err := s.WaitMount(); err != nil {
		return err
	}
	pollHack(s.dir)
	return nil
}

// unmount unmounts the mount point and waits for the serving loops to
// end.
func (s *server) unmount() error {
	if err := unmountDir(s.dir); err != nil {
		return err
	}
	s.Wait()
	return nil
}
