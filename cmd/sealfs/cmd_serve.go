package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/webdavfs"
)

type serveOptions struct {
	open         openFlags
	addr         string
	ro           bool
	reverse      bool
	prefix       string
	tlsCert      string
	tlsKey       string
	authUser     string
	authPassfile string
	htpasswd     string
	insecure     bool
	debug        bool
	sync         bool
	exclude      excludeFlags
	prof         profileFlags
}

var cmdServe = &command{
	name:    "serve",
	args:    "webdav CIPHERDIR",
	summary: "serve a vault over WebDAV (no FUSE needed; every OS mounts it)",
	help: `
Serves the plaintext view of the vault in CIPHERDIR (a directory or an
s3:// location) read-write over WebDAV (RFC 4918, classes 1 and 2), for
Finder, Windows Explorer, davfs2, rclone and phone file managers. It
unlocks like mount (-passfile, -extpass, -masterkey, -fido2 or a prompt),
runs in the foreground, prints the URL when it is ready and stops on
SIGINT or SIGTERM after the requests in flight have finished (at most 30
seconds).

It listens on 127.0.0.1:8080 unless -addr says otherwise (port 0 picks a
free one). Any address that is not a loopback address needs TLS (-tls-cert
and -tls-key) and authentication (-auth-user with -auth-passfile, or
-htpasswd with bcrypt entries as "htpasswd -B" writes them), unless
-insecure is given. -ro serves read-only; -reverse serves the encrypted
view of the plaintext directory CIPHERDIR (read-only, as mount -reverse,
with its -exclude options), for backup tools that speak WebDAV.

Uploads replace a file only once complete: an interrupted PUT leaves the
old file. PROPFIND with Depth infinity is refused. Modification times sent
by clients (PROPPATCH of lastmodified or Win32LastModifiedTime,
X-OC-Mtime) are kept. macOS' ._* and .DS_Store files are stored like any
other (encrypted). Requests that fail are logged on stderr (every request
with -debug); passwords and keys never are.`,
	flags: func(fs *flag.FlagSet) any {
		o := &serveOptions{}
		o.open.register(fs)
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
		fs.BoolVar(&o.ro, "ro", false, "read-only: refuse every change")
		fs.BoolVar(&o.reverse, "reverse", false, "serve the encrypted view of the plaintext directory CIPHERDIR (read-only)")
		fs.StringVar(&o.prefix, "prefix", "", "serve under the URL `PATH` (\"/dav\") instead of the root")
		fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with the certificate (chain) in PEM `FILE`")
		fs.StringVar(&o.tlsKey, "tls-key", "", "the private key of -tls-cert, PEM `FILE`")
		fs.StringVar(&o.authUser, "auth-user", "", "require HTTP basic authentication as `NAME` (password from -auth-passfile)")
		fs.StringVar(&o.authPassfile, "auth-passfile", "", "the password of -auth-user: the first line of `FILE`")
		fs.StringVar(&o.htpasswd, "htpasswd", "", "require HTTP basic authentication by the users of an htpasswd `FILE` (bcrypt)")
		fs.BoolVar(&o.insecure, "insecure", false, "allow a non-loopback address without TLS or without authentication")
		fs.BoolVar(&o.debug, "debug", false, "log every request")
		fs.BoolVar(&o.sync, "sync", false, "flush every upload to stable storage (fsync) before acknowledging it")
		o.exclude.register(fs)
		o.prof.register(fs)
		return o
	},
	run: runServe,
}

// serveShutdown bounds the wait for requests in flight at a signal.
const serveShutdown = 30 * time.Second

func runServe(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*serveOptions)
	if len(args) != 2 || args[0] != "webdav" {
		return usageErrorf("expected webdav CIPHERDIR (the only protocol is webdav)")
	}
	dir := args[1]
	users, err := o.users()
	if err != nil {
		return err
	}
	if err := o.checkExposure(users); err != nil {
		return err
	}
	if !o.reverse && !o.exclude.empty() {
		return mark(errExclude, usageErrorf("-exclude, -exclude-wildcard and -exclude-from need -reverse"))
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	} else if o.open.quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	hopts := &webdavfs.Options{Prefix: o.prefix, ReadOnly: o.ro, Logger: logger, SyncUploads: o.sync}

	var h *webdavfs.Handler
	var closeFS func()
	if o.reverse {
		e.quiet = e.quiet || o.open.quiet
		v, done, err := e.openReverse(ctx, dir, &o.open.secret, o.open.config, &o.exclude, &o.open.format, reverse.Options{Logger: logger})
		if err != nil {
			return err
		}
		h, closeFS = webdavfs.NewReadOnly(statfsView(v, dir), hopts), done
	} else {
		o.open.logger = logger
		v, err := e.openVault(ctx, dir, &o.open, o.ro, func(p string, err error) {
			logger.Warn("corrupt ciphertext", "path", "/"+p, "err", err)
		})
		if err != nil {
			return err
		}
		h, closeFS = webdavfs.New(v, hopts), func() { v.Close() }
	}
	defer closeFS()

	var handler http.Handler = h
	if users != nil {
		handler = webdavfs.BasicAuth(h, users, "sealfs")
	} else if host, _, _ := net.SplitHostPort(o.addr); isLoopback(host) {
		// Without a password, a web page could read the vault through a
		// name of its own pointed at this address (DNS rebinding). (A
		// server that -insecure exposes is reached by host names too.)
		handler = webdavfs.LocalNames(h)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	scheme := "http"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			return usageErrorf("-tls-cert/-tls-key: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	stopProfiles, err := o.prof.start()
	if err != nil {
		ln.Close()
		return err
	}
	defer stopProfiles()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	// The URL is the command's output: printed even with -q.
	fmt.Fprintf(e.stdout, "Serving %s over WebDAV at %s://%s%s/\n", dir, scheme, ln.Addr(), strings.TrimSuffix(o.prefix, "/"))
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		e.warnf("requests still running after %v were cut off\n", serveShutdown)
	}
	<-done
	return nil
}

// users loads the accounts of -auth-user/-auth-passfile and -htpasswd; nil
// means no authentication.
func (o *serveOptions) users() (*webdavfs.Users, error) {
	if (o.authUser == "") != (o.authPassfile == "") {
		return nil, usageErrorf("-auth-user and -auth-passfile go together")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, usageErrorf("-tls-cert and -tls-key go together")
	}
	if o.authUser == "" && o.htpasswd == "" {
		return nil, nil
	}
	u := webdavfs.NewUsers()
	if o.authUser != "" {
		pw, _, err := readPassfile(o.authPassfile)
		if err == nil && len(pw) == 0 {
			err = errors.New("empty password")
		}
		if err != nil {
			return nil, mark(errPassword, fmt.Errorf("-auth-passfile: %w", err))
		}
		u.AddPassword(o.authUser, pw)
		clear(pw)
	}
	if o.htpasswd != "" {
		f, err := os.Open(o.htpasswd)
		if err != nil {
			return nil, usageErrorf("-htpasswd: %v", err)
		}
		defer f.Close()
		if err := u.ReadHtpasswd(f); err != nil {
			return nil, usageErrorf("-htpasswd %s: %v", o.htpasswd, err)
		}
		if u.Len() == 0 {
			return nil, usageErrorf("-htpasswd %s: no users", o.htpasswd)
		}
	}
	return u, nil
}

// checkExposure refuses to serve beyond this machine without TLS and
// authentication, unless -insecure.
func (o *serveOptions) checkExposure(users *webdavfs.Users) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return usageErrorf("-addr %q: %v", o.addr, err)
	}
	if isLoopback(host) || o.insecure {
		return nil
	}
	var missing []string
	if o.tlsCert == "" {
		missing = append(missing, "TLS (-tls-cert, -tls-key)")
	}
	if users == nil {
		missing = append(missing, "authentication (-auth-user and -auth-passfile, or -htpasswd)")
	}
	if len(missing) > 0 {
		return usageErrorf("-addr %s is reachable from other machines: it needs %s, or -insecure", o.addr, strings.Join(missing, " and "))
	}
	return nil
}
