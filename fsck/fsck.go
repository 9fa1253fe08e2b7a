// Package fsck checks a vault's ciphertext without mounting it and
// repairs what can be repaired without losing data. [Check] works on a
// ciphertext directory, [CheckStore] on any
// [github.com/sealfs/sealfs/store.Store].
//
// Check walks the whole tree: every gocryptfs.diriv, every encrypted name
// and long-name .name file, every file header and content block (holes,
// FORMAT.md §5.5, pass), every symlink target and every encrypted xattr
// name and value. Each problem is a Finding with the ciphertext path and,
// where it can be known, the plaintext path. Files are checked in
// parallel by a bounded pool of workers; the keys are derived once.
//
// The verdicts follow gocryptfs -fsck: what it reports is an error
// (Finding.Warning false); what it tolerates but is still odd (a 1..17
// byte file, which reads as empty; an orphaned .name file) is a warning.
//
// With [Options].Repair, Check then does what is safe and reports each
// [Action]: see [ActionKind] for what a repair can do, and [Report] for
// what is left.
package fsck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/vault"
)

// Kind is the kind of a problem.
type Kind int

const (
	// KindDirIV: a directory's gocryptfs.diriv is missing or malformed,
	// so the names in it cannot be decrypted.
	KindDirIV Kind = iota + 1
	// KindName: a ciphertext name does not decrypt.
	KindName
	// KindLongName: the .name file of a hashed long name is missing,
	// unreadable, does not match the hash or does not decrypt.
	KindLongName
	// KindOrphanName: a .name file without its hashed entry (warning).
	KindOrphanName
	// KindShortFile: a file of 1..17 bytes, too short for a header; it
	// reads as empty (warning, as gocryptfs).
	KindShortFile
	// KindHeader: a corrupt file header (bad version, all-zero or damaged
	// file ID).
	KindHeader
	// KindBlock: a content block fails authentication or is truncated.
	KindBlock
	// KindSymlink: a symlink target does not decrypt.
	KindSymlink
	// KindXattrName: an encrypted xattr name does not decrypt.
	KindXattrName
	// KindXattrValue: an xattr value does not decrypt.
	KindXattrValue
	// KindIO: an object could not be read at all.
	KindIO
)

var kindNames = map[Kind]string{
	KindDirIV: "diriv", KindName: "name", KindLongName: "longname", KindOrphanName: "orphan-name",
	KindShortFile: "short-file", KindHeader: "header", KindBlock: "block", KindSymlink: "symlink",
	KindXattrName: "xattr-name", KindXattrValue: "xattr-value", KindIO: "io",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// ErrWrongKey is returned by Check with Repair when the vault has
// problems and nothing in it decrypts with the key: then the key, not the
// vault, is the likely problem, and repairing would move everything to
// lost+found.
var ErrWrongKey = errors.New("fsck: nothing in the vault decrypts with this key; not repairing")

// ErrCorrupt is wrapped by every Finding error that says data is damaged
// (as opposed to KindIO errors from the operating system). It is the same
// value as sealfs.ErrCorrupt and content.ErrCorrupt.
var ErrCorrupt = content.ErrCorrupt

// Finding is one problem.
type Finding struct {
	Kind Kind
	// CipherPath is the object's path relative to the vault root ("." is
	// the root), always set.
	CipherPath string
	// PlainPath is the plaintext path ("." is the root), or "" when it
	// cannot be known (an ancestor's or the object's own name does not
	// decrypt).
	PlainPath string
	// PlainDir is the plaintext path of the directory that holds the
	// object, when known (also for objects whose own name is lost).
	PlainDir string
	// Block is the first corrupt block for KindBlock, else -1.
	Block int64
	// Warning marks problems gocryptfs -fsck does not count.
	Warning bool
	Err     error

	fix *fix // what Repair can do, nil if nothing
}

func (f *Finding) Error() string {
	p := f.PlainPath
	if p == "" {
		p = "?"
	}
	return fmt.Sprintf("%s: %s (ciphertext %s): %v", f.Kind, p, f.CipherPath, f.Err)
}

func (f *Finding) Unwrap() error { return f.Err }

// Progress is a snapshot of the work done so far.
type Progress struct {
	Dirs, Files int64 // directories listed, files checked
	Bytes       int64 // ciphertext bytes read
	Findings    int
}

// Stats counts what the walk saw. Hard links are counted once per inode
// in PlainBytes and CipherBytes, once per name in Files.
type Stats struct {
	Dirs, Files, Symlinks, Others int64
	PlainBytes, CipherBytes       int64
}

// Options control Check. The zero value checks everything and repairs
// nothing.
type Options struct {
	// Repair applies the safe repairs after the check; with DryRun they
	// are only planned (Action.Done stays false).
	Repair, DryRun bool
	// SkipContent checks headers but does not read content blocks (for
	// statistics).
	SkipContent bool
	// Workers is the number of files checked at once; 0 = 2×GOMAXPROCS.
	Workers int
	// OnFinding, if set, hears of each problem as soon as it is found
	// (calls are serialised).
	OnFinding func(Finding)
	// OnProgress, if set, is called every ProgressInterval (default 250
	// ms) and once at the end, serialised with OnFinding.
	OnProgress       func(Progress)
	ProgressInterval time.Duration
	// OnAction, if set, hears of each repair action when it is done (or
	// planned, with DryRun).
	OnAction func(Action)
	// LostFound is the plaintext name of the quarantine directory in the
	// vault root; "" = "lost+found".
	LostFound string
}

// Report is the result of Check.
type Report struct {
	Findings []Finding // sorted by ciphertext path
	Actions  []Action  // in the order they were applied
	Stats    Stats
}

// Errors returns the number of findings that are not warnings.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if !f.Warning {
			n++
		}
	}
	return n
}

// Unrepaired returns the number of error findings that no successful
// repair action resolved.
func (r *Report) Unrepaired() int {
	done := map[int]bool{}
	for _, a := range r.Actions {
		if a.Done && a.Err == nil {
			for _, i := range a.findings {
				done[i] = true
			}
		}
	}
	n := 0
	for i, f := range r.Findings {
		if !f.Warning && !done[i] {
			n++
		}
	}
	return n
}

// checker is the state of one Check.
type checker struct {
	s     store.Store
	lay   layout.Format
	cfg   *vault.Config
	codec *content.Codec
	nt    *names.Transform // nil with plaintext names
	xnt   *names.Transform // xattr names (encrypted in every mode)
	dirIV bool
	opts  *Options
	lf    string // plaintext name of lost+found
	// newRootIV is the root's fresh IV when Repair rewrites its diriv.
	newRootIV []byte

	mu       sync.Mutex // guards everything below and the callbacks
	findings []Finding
	stats    Stats
	prog     Progress
	inodes   map[[2]uint64]bool

	jobs chan fileJob
	wg   sync.WaitGroup
	// authOK: something (a name, block, target or xattr) decrypted with
	// the key. Repair refuses to act on a vault where nothing does.
	authOK atomic.Bool
}

type fileJob struct {
	cpath, plain string
	quarantined  bool // inside lost+found
}

// Check checks the vault in dir (its ciphertext directory) with the
// config cfg and master key key, which it does not keep. It returns an
// error only when the check itself cannot run (dir unreadable, bad key
// schedule) or ctx is cancelled; problems in the vault are in the Report.
func Check(ctx context.Context, dir string, cfg *vault.Config, key *vault.Key, opts *Options) (*Report, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "fsck", Path: dir, Err: syscall.ENOTDIR}
	}
	// Checking reads everything: keep the access times as they are.
	s, err := dirstore.New(dir, &dirstore.Options{NoAtime: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return CheckStore(ctx, s, cfg, key, opts)
}

// CheckStore is Check for the vault held by store s.
func CheckStore(ctx context.Context, s store.Store, cfg *vault.Config, key *vault.Key, opts *Options) (*Report, error) {
	if opts == nil {
		opts = &Options{}
	}
	codec, nt, err := cfg.Ciphers(key, nil)
	if err != nil {
		return nil, err
	}
	c := &checker{s: s, cfg: cfg, codec: codec, xnt: nt, dirIV: cfg.DirIV(), opts: opts,
		lay: layout.Format{PlainNames: cfg.PlaintextNames(), DirIV: cfg.DirIV()},
		lf:  opts.LostFound, inodes: map[[2]uint64]bool{}}
	if c.lf == "" {
		c.lf = "lost+found"
	}
	if !cfg.PlaintextNames() {
		c.nt = nt
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.jobs = make(chan fileJob, 4*workers)
	for range workers {
		c.wg.Add(1)
		go c.worker(ctx)
	}
	stopProg := c.startProgress()
	walkErr := c.walkDir(ctx, ".", ".", false)
	close(c.jobs)
	c.wg.Wait()
	stopProg()
	if walkErr == nil {
		walkErr = ctx.Err()
	}
	slices.SortStableFunc(c.findings, func(a, b Finding) int { return strings.Compare(a.CipherPath, b.CipherPath) })
	rep := &Report{Findings: c.findings, Stats: c.stats}
	if walkErr != nil {
		return rep, walkErr
	}
	if opts.Repair {
		if rep.Errors() > 0 && !c.authOK.Load() {
			return rep, ErrWrongKey
		}
		if err := c.repair(ctx, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (c *checker) startProgress() func() {
	if c.opts.OnProgress == nil {
		return func() {}
	}
	iv := c.opts.ProgressInterval
	if iv <= 0 {
		iv = 250 * time.Millisecond
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.mu.Lock()
				c.opts.OnProgress(c.prog)
				c.mu.Unlock()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		c.mu.Lock()
		c.opts.OnProgress(c.prog)
		c.mu.Unlock()
	}
}

// report records a finding.
func (c *checker) report(f Finding) {
	if f.Block == 0 && f.Kind != KindBlock {
		f.Block = -1
	}
	if f.PlainDir == "" && f.PlainPath != "" && f.PlainPath != "." {
		f.PlainDir = path.Dir(f.PlainPath)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.findings = append(c.findings, f)
	c.prog.Findings++
	if c.opts.OnFinding != nil {
		c.opts.OnFinding(f)
	}
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func pjoin(dir, name string) string {
	if dir == "" || name == "" {
		return ""
	}
	return path.Join(dir, name)
}

// dirEntry is a child of a ciphertext directory as walkDir sees it.
type dirEntry struct {
	stored string // name in the ciphertext directory
	typ    fs.FileMode
}

// openRegular opens a regular file of the store for reading without
// blocking on a FIFO; other types are ErrCorrupt.
func (c *checker) openRegular(cpath string) (store.File, fs.FileInfo, error) {
	f, err := c.s.OpenFile(cpath, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = corruptf("%s is not a regular file", path.Base(cpath))
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// readDirIV reads and checks the IV file of directory cpath.
func (c *checker) readDirIV(cpath string) ([]byte, error) { return layout.ReadDirIV(c.s, cpath) }

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// walkDir checks directory cpath (plaintext path plain, "" if unknown)
// and everything below it.
func (c *checker) walkDir(ctx context.Context, cpath, plain string, quarantined bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := c.s.OpenFile(cpath, os.O_RDONLY|store.ODirectory, 0)
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: cpath, PlainPath: plain, Err: err, Warning: quarantined})
		return nil
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: cpath, PlainPath: plain, Err: err, Warning: quarantined})
		return nil
	}
	c.mu.Lock()
	c.stats.Dirs++
	c.prog.Dirs++
	c.mu.Unlock()
	c.checkXattrs(cpath, plain, nil, quarantined)

	entries := make([]dirEntry, 0, len(des))
	nameFiles := map[string]bool{}
	hasDirIV := false
	for _, de := range des {
		n := de.Name()
		switch c.lay.Classify(cpath, n) {
		case layout.Config, layout.RmdirLeftover:
			continue
		case layout.DirIV:
			hasDirIV = true
			continue
		case layout.LongNameFile:
			nameFiles[n] = false
			continue
		}
		entries = append(entries, dirEntry{stored: n, typ: de.Type()})
	}
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.stored, b.stored) })

	var iv []byte
	ivOK := true
	if c.nt != nil {
		iv = make([]byte, names.DirIVSize)
		if c.dirIV {
			iv, err = c.readDirIV(cpath)
			if err != nil {
				ivOK = false
				f := Finding{Kind: KindDirIV, CipherPath: layout.Join(cpath, names.DirIVFile), PlainPath: plain, Warning: quarantined}
				if !hasDirIV {
					f.Err = corruptf("missing %s", names.DirIVFile)
					f.fix = c.planDirIV(cpath, entries)
				} else {
					f.Err = err
				}
				c.report(f)
			}
		}
	}

	// Decrypt all names first: if none of several decrypts, the IV is
	// the likely culprit, and moving the entries away would not help.
	plains := make([]string, len(entries))
	errs := make([]error, len(entries))
	decrypted := 0
	for i, e := range entries {
		switch {
		case c.nt == nil:
			plains[i] = pjoin(plain, e.stored)
		case ivOK:
			name, err := c.decryptEntry(cpath, e.stored, iv, nameFiles)
			if err == nil {
				plains[i] = pjoin(plain, name)
				decrypted++
			}
			errs[i] = err
		}
	}
	suspectIV := decrypted == 0 && len(entries) > 1
	for i, e := range entries {
		cp := layout.Join(cpath, e.stored)
		childPlain := plains[i]
		if err := errs[i]; err != nil {
			kind := KindName
			if names.IsLongName(e.stored) {
				kind = KindLongName
			}
			if suspectIV {
				err = fmt.Errorf("%w (no name in this directory decrypts: its %s is probably damaged)", err, names.DirIVFile)
			}
			f := Finding{Kind: kind, CipherPath: cp, PlainDir: plain, Err: err, Warning: quarantined}
			if !quarantined && !suspectIV && !(cpath == "." && strings.HasPrefix(e.stored, names.ConfigFile)) {
				f.fix = &fix{move: true, isDir: e.typ.IsDir(), lfName: e.stored}
				if kind == KindLongName {
					f.fix.nameFile = cp + names.LongNameSuffix
				}
			}
			c.report(f)
		}
		childQ := quarantined || (cpath == "." && childPlain == c.lf && e.typ.IsDir())
		switch {
		case e.typ.IsDir():
			if err := c.walkDir(ctx, cp, childPlain, childQ); err != nil {
				return err
			}
		case e.typ.IsRegular():
			select {
			case c.jobs <- fileJob{cpath: cp, plain: childPlain, quarantined: childQ}:
			case <-ctx.Done():
				return ctx.Err()
			}
		case e.typ&fs.ModeSymlink != 0:
			c.checkSymlink(cp, childPlain, childQ)
		default:
			c.mu.Lock()
			c.stats.Others++
			c.mu.Unlock()
		}
	}
	for n, used := range nameFiles {
		if !used {
			cp := layout.Join(cpath, n)
			c.report(Finding{Kind: KindOrphanName, CipherPath: cp, PlainDir: plain, Warning: true,
				Err: corruptf("no entry for this long-name file"), fix: &fix{remove: true}})
		}
	}
	return nil
}

// decryptEntry decrypts a stored name, resolving hashed long names
// through their .name file (which it marks as used in nameFiles).
func (c *checker) decryptEntry(cpath, stored string, iv []byte, nameFiles map[string]bool) (string, error) {
	full := stored
	if names.IsLongName(stored) {
		nf := stored + names.LongNameSuffix
		if _, ok := nameFiles[nf]; !ok {
			return "", corruptf("missing %s", nf)
		}
		nameFiles[nf] = true
		var err error
		if full, err = layout.ReadLongName(c.s, c.nt, cpath, stored); err != nil {
			return "", err
		}
	}
	name, err := c.nt.DecryptName(full, iv)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	c.authOK.Store(true)
	return name, nil
}

func (c *checker) checkSymlink(cpath, plain string, quarantined bool) {
	c.mu.Lock()
	c.stats.Symlinks++
	c.mu.Unlock()
	target, err := c.s.Readlink(cpath)
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: cpath, PlainPath: plain, Err: err, Warning: quarantined})
		return
	}
	if c.nt == nil {
		return
	}
	if _, err := layout.DecryptTarget(c.codec, c.nt, target); err != nil {
		c.report(Finding{Kind: KindSymlink, CipherPath: cpath, PlainPath: plain, Err: err, Warning: quarantined})
		return
	}
	c.authOK.Store(true)
}

// xattrReader reads an object's xattrs: through its open file where the
// store offers that, else by path.
type xattrReader struct {
	xs    store.XattrStore
	f     store.FileXattrer
	cpath string
}

func (r xattrReader) list() ([]string, error) {
	if r.f != nil {
		return r.f.Listxattr()
	}
	return r.xs.Listxattr(r.cpath)
}

func (r xattrReader) get(attr string) ([]byte, error) {
	if r.f != nil {
		return r.f.Getxattr(attr)
	}
	return r.xs.Getxattr(r.cpath, attr)
}

// checkXattrs checks the encrypted xattrs of an object (not following
// symlinks), where the store has xattrs; f, if not nil, is the object
// open.
func (c *checker) checkXattrs(cpath, plain string, f store.File, quarantined bool) {
	xs, ok := c.s.(store.XattrStore)
	if !ok {
		return
	}
	r := xattrReader{xs: xs, cpath: cpath}
	if fx, ok := f.(store.FileXattrer); ok {
		r.f = fx
	}
	xnames, err := r.list()
	if err != nil {
		if !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, errors.ErrUnsupported) {
			c.report(Finding{Kind: KindIO, CipherPath: cpath, PlainPath: plain, Err: fmt.Errorf("listing xattrs: %w", err), Warning: quarantined})
		}
		return
	}
	for _, n := range xnames {
		if !strings.HasPrefix(n, names.XattrPrefix) {
			continue
		}
		pn, err := c.xnt.DecryptXattrName(n)
		if err != nil {
			c.report(Finding{Kind: KindXattrName, CipherPath: cpath, PlainPath: plain, Warning: quarantined,
				Err: fmt.Errorf("%w: xattr %q: %w", ErrCorrupt, n, err)})
			continue
		}
		v, err := r.get(n)
		if err != nil {
			c.report(Finding{Kind: KindIO, CipherPath: cpath, PlainPath: plain, Err: fmt.Errorf("xattr %q: %w", pn, err), Warning: quarantined})
			continue
		}
		if len(v) == 0 {
			continue // an empty value is stored empty (§8)
		}
		if _, err := layout.DecryptXattrValue(c.codec, v); err != nil {
			c.report(Finding{Kind: KindXattrValue, CipherPath: cpath, PlainPath: plain, Warning: quarantined,
				Err: fmt.Errorf("%w: xattr %q: %w", ErrCorrupt, pn, err)})
			continue
		}
		c.authOK.Store(true)
	}
}
