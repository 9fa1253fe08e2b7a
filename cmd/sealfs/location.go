package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/s3store"
	"github.com/sealfs/sealfs/vault"
)

// A CIPHERDIR may be s3://BUCKET/PREFIX: the vault lives in an S3 bucket.
const s3Scheme = "s3://"

func isS3(arg string) bool { return strings.HasPrefix(arg, s3Scheme) }

// Exit codes and kinds of the errors of bucket vaults.
const (
	exitS3Bucket   = 40 // the bucket does not exist
	exitS3Access   = 41 // the endpoint refused the credentials or the access
	exitS3Endpoint = 42 // the endpoint does not answer, or its URL is refused
	exitS3Cache    = 43 // the write-back cache is in use by another process
)

var (
	errS3Bucket   = errors.New("bucket not found")
	errS3Access   = errors.New("access to the bucket denied")
	errS3Endpoint = errors.New("S3 endpoint unreachable")
	errS3Cache    = errors.New("S3 cache in use")
)

// s3Flags are the options of vaults in buckets.
type s3Flags struct {
	cacheDir  string
	cacheMax  string
	allowHTTP bool
	// writeBack is mount's -write-back; metaTTL < 0 turns the lookup
	// cache off (-sharedstorage).
	writeBack  time.Duration
	syncUpload bool
	metaTTL    time.Duration
}

func (f *s3Flags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cacheDir, "cache-dir", "", "s3:// vaults: write-back cache `DIR` (default: the user cache directory's sealfs/s3)")
	fs.StringVar(&f.cacheMax, "cache-max-size", "1G", "s3:// vaults: most data waiting for a deferred upload (`SIZE`, with K, M, G)")
	fs.BoolVar(&f.allowHTTP, "s3-allow-http", false, "s3:// vaults: allow a plain http:// endpoint that is not on loopback")
}

// parseSize reads 1024, 64K, 512M, 2G.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-min(1, len(s)):]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// parseS3 splits s3://BUCKET/PREFIX.
func parseS3(arg string) (bucket, prefix string, err error) {
	rest := strings.TrimPrefix(arg, s3Scheme)
	bucket, prefix, _ = strings.Cut(rest, "/")
	prefix = strings.Trim(prefix, "/")
	if bucket == "" || strings.ContainsAny(bucket, " \\") {
		return "", "", usageErrorf("%s: expected s3://BUCKET or s3://BUCKET/PREFIX", arg)
	}
	for _, c := range strings.Split(prefix, "/") {
		if prefix != "" && (c == "" || c == "." || c == "..") {
			return "", "", usageErrorf("%s: the prefix %q has an empty, . or .. component", arg, prefix)
		}
	}
	return bucket, prefix, nil
}

// s3Client makes a client from the standard AWS settings: AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/config
// and ~/.aws/credentials, and AWS_ENDPOINT_URL(_S3) for another engine.
// A custom endpoint is addressed path-style; it must use https unless it
// is on loopback or -s3-allow-http is given.
func s3Client(ctx context.Context, f *s3Flags) (*s3.Client, error) {
	// Bounded waits for a connection and for an answer's headers, never
	// for a whole transfer: a stuck endpoint must not hang a mount.
	httpClient := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 10 * time.Second
	}).WithTransportOptions(func(t *http.Transport) {
		t.ResponseHeaderTimeout = 2 * time.Minute
		// Deferred uploads run 16 at a time beside the requests a
		// mount waits for: keep their connections.
		t.MaxIdleConnsPerHost = 64
	})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(httpClient))
	if err != nil {
		return nil, mark(errS3Endpoint, fmt.Errorf("AWS configuration: %w", err))
	}
	endpoint := aws.ToString(cfg.BaseEndpoint)
	if e := os.Getenv("AWS_ENDPOINT_URL_S3"); e != "" {
		endpoint = e
	}
	if endpoint != "" {
		if !strings.Contains(endpoint, "://") {
			endpoint = "https://" + endpoint
		}
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" {
			return nil, mark(errS3Endpoint, fmt.Errorf("endpoint %q is not an http(s) URL", endpoint))
		}
		if u.Scheme == "http" && !f.allowHTTP && !isLoopback(u.Hostname()) {
			return nil, mark(errS3Endpoint, fmt.Errorf("endpoint %s: plain http to a host that is not loopback sends the vault's requests unprotected; use https, or -s3-allow-http", endpoint))
		}
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
		// Checksums where S3 requires them (not every engine returns
		// them), and no SDK log lines on stderr about their absence:
		// content is authenticated by the vault's own encryption.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openS3 opens the store of an s3:// vault. With private, the store gets
// a cache of its own that it removes when closed (for a look at the
// config before a mount, which takes the real cache).
func (e *env) openS3(ctx context.Context, arg string, f *s3Flags, private bool, logger *slog.Logger) (*s3store.Store, error) {
	bucket, prefix, err := parseS3(arg)
	if err != nil {
		return nil, err
	}
	maxSize, err := parseSize(f.cacheMax)
	if err != nil {
		return nil, usageErrorf("-cache-max-size: %v", err)
	}
	client, err := s3Client(ctx, f)
	if err != nil {
		return nil, err
	}
	o := &s3store.Options{Client: client, Bucket: bucket, Prefix: prefix, CacheMaxSize: maxSize,
		WriteBack: f.writeBack, SyncUpload: f.syncUpload, MetaTTL: f.metaTTL, Logger: logger}
	if !private {
		o.CacheDir = f.cacheDir
		if o.CacheDir == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				return nil, usageErrorf("no cache directory (%v): give -cache-dir", err)
			}
			o.CacheDir = filepath.Join(dir, "sealfs", "s3")
		}
		if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
			return nil, usageErrorf("-cache-dir: %v", err)
		}
	}
	st, err := s3store.New(ctx, o)
	switch {
	case errors.Is(err, s3store.ErrNoBucket):
		return nil, mark(errS3Bucket, err)
	case errors.Is(err, s3store.ErrAccessDenied):
		return nil, mark(errS3Access, err)
	case errors.Is(err, s3store.ErrUnreachable):
		return nil, mark(errS3Endpoint, err)
	case errors.Is(err, s3store.ErrCacheBusy):
		return nil, mark(errS3Cache, err)
	}
	return st, err
}

// location is where a vault is: a local directory, or a bucket.
type location struct {
	arg string
	s3  *s3store.Store // nil for a local directory
}

// locate checks a CIPHERDIR argument: an existing directory, or a bucket
// that answers.
func (e *env) locate(ctx context.Context, arg string, f *s3Flags, logger *slog.Logger) (*location, error) {
	if !isS3(arg) {
		return &location{arg: arg}, checkCipherDir(arg)
	}
	st, err := e.openS3(ctx, arg, f, false, logger)
	if err != nil {
		return nil, err
	}
	return &location{arg: arg, s3: st}, nil
}

// close closes the bucket store (uploading what waits).
func (l *location) close() error {
	if l.s3 != nil {
		return l.s3.Close()
	}
	return nil
}

// configPath is the config file to read: -config, else the one in a
// local CIPHERDIR; "" for the config object of a bucket vault.
func (l *location) configPath(custom, name string) string {
	if l.s3 != nil && custom == "" {
		return ""
	}
	return configPath(l.arg, custom, name)
}

// loadConfig loads the vault's config (see configPath).
func (l *location) loadConfig(custom, name string) (*vault.Config, error) {
	if p := l.configPath(custom, name); p != "" {
		return loadConfig(p)
	}
	cfg, err := sealfs.ReadConfig(l.s3)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, mark(errOpenConf, fmt.Errorf("loading config file: %s/%s: %w", strings.TrimSuffix(l.arg, "/"), name, err))
		}
		return nil, fmt.Errorf("loading config file: %w", err)
	}
	return cfg, nil
}

// open opens the vault; the FS closes a bucket store when it is closed.
func (l *location) open(pw []byte, opts *sealfs.Options) (*sealfs.FS, error) {
	if l.s3 == nil {
		return sealfs.Open(l.arg, pw, opts)
	}
	o := *opts
	o.CloseStore = true
	return sealfs.OpenStore(l.s3, pw, &o)
}

// peekConfig loads the config of a vault without keeping the vault open:
// a bucket vault's through a private cache, so that the process that
// mounts it can take the real one.
func (e *env) peekConfig(ctx context.Context, arg string, o *openFlags, name string) (*vault.Config, error) {
	if !isS3(arg) || o.config != "" {
		return loadConfig(configPath(arg, o.config, name))
	}
	st, err := e.openS3(ctx, arg, &o.s3, true, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return (&location{arg: arg, s3: st}).loadConfig("", name)
}

// check runs fsck on the vault.
func (l *location) check(ctx context.Context, cfg *vault.Config, key *vault.Key, o *fsck.Options) (*fsck.Report, error) {
	if l.s3 == nil {
		return fsck.Check(ctx, l.arg, cfg, key, o)
	}
	return fsck.CheckStore(ctx, l.s3, cfg, key, o)
}

// backupStoreConfig copies the config object name to name.bak (0400),
// which must not exist.
func backupStoreConfig(st store.Store, name string) error {
	in, err := st.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(in, 0, 1<<20), 1<<20))
	if err != nil {
		return err
	}
	out, err := st.OpenFile(name+".bak", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	if _, err := out.WriteAt(data, 0); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
