package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/vault"
)

// exitFsckErrors: fsck found problems (gocryptfs' code, FORMAT.md §13).
const exitFsckErrors = 26

// errFsckProblems marks the result of an fsck that found problems.
var errFsckProblems = errors.New("fsck found problems")

type fsckOptions struct {
	open   openFlags
	repair bool
	dryRun bool
}

var cmdFsck = &command{
	name:    "fsck",
	args:    "CIPHERDIR",
	summary: "check a vault without mounting it; -repair fixes what is safe",
	help: `
Checks every directory IV, name and long-name file, every file header and
content block (holes are skipped), every symlink target and every
encrypted xattr of the vault in CIPHERDIR, without mounting it. Each
problem is one line on stdout with the plaintext path ("?" where the name
is lost) and the ciphertext path; then a summary line. The exit code is
26 when problems were found, 0 when the vault is clean, as with gocryptfs
-fsck. Warnings (a 1..17 byte file, which reads as empty; an orphaned
.name file) are shown but do not change the exit code, as gocryptfs does
not count them.

-repair then does only what loses no readable data, one line per action:
a damaged header whose blocks still authenticate with the recovered file
ID is rewritten; 1..17 byte files are truncated to 0 bytes; orphaned
.name files are removed; a missing gocryptfs.diriv is written again (with
the recovered IV of a copied reverse view, else a fresh one, moving the
directory's entries whose names are lost to lost+found); objects whose
name or header cannot be recovered are moved to the directory lost+found
in the vault root (created if needed; inside it, problems count as
warnings), except where no name of a directory decrypts (then its IV is
the likely damage). Corrupt blocks, symlink targets and xattrs are reported only.
After -repair, the exit code is 0 if every problem was repaired, else 26.
-dry-run shows the plan and changes nothing. When nothing in a damaged
vault decrypts with the key (a wrong -masterkey), -repair refuses to act
(exit code 11).

A progress line is shown on stderr when it is a terminal.`,
	flags: func(fs *flag.FlagSet) any {
		o := &fsckOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.repair, "repair", false, "repair what can be repaired without losing data")
		fs.BoolVar(&o.dryRun, "dry-run", false, "with -repair: only show what would be done")
		return o
	},
	run: runFsck,
}

// unlockKey loads the config of the forward vault in dir and returns it
// with the master key, unlocked with the password or -masterkey. With
// -masterkey and no config file, the format flags describe the vault.
func (e *env) unlockKey(ctx context.Context, loc *location, o *openFlags) (*vault.Config, *vault.Key, error) {
	e.quiet = e.quiet || o.quiet
	if err := o.secret.validate(); err != nil {
		return nil, nil, err
	}
	if err := o.format.check(); err != nil {
		return nil, nil, err
	}
	key, err := e.masterKey(ctx, &o.secret)
	if err != nil {
		return nil, nil, err
	}
	if key != nil {
		cfg, err := loc.loadConfig(o.config, vault.DefaultFile)
		if errors.Is(err, os.ErrNotExist) {
			if o.format.aessiv && o.format.xchacha {
				key.Destroy()
				return nil, nil, usageErrorf("-aessiv and -xchacha cannot be used together")
			}
			cfg, err = vault.FormatOnly(o.format.options())
		}
		if err != nil {
			key.Destroy()
			return nil, nil, mark(errOpenConf, err)
		}
		return cfg, key, nil
	}
	cfg, err := loc.loadConfig(o.config, vault.DefaultFile)
	if err != nil {
		return nil, nil, err
	}
	if key, err = e.unlockConfig(ctx, cfg, &o.secret); err != nil {
		return nil, nil, err
	}
	return cfg, key, nil
}

// openKey locates the vault at arg and unlocks its key. The caller
// closes the location (for a bucket vault, that uploads what waits) and
// destroys the key.
func (e *env) openKey(ctx context.Context, arg string, o *openFlags) (*location, *vault.Config, *vault.Key, error) {
	loc, err := e.locate(ctx, arg, &o.s3, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, key, err := e.unlockKey(ctx, loc, o)
	if err != nil {
		loc.close()
		return nil, nil, nil, err
	}
	return loc, cfg, key, nil
}

// unlockConfig reads the password and unwraps the master key of cfg.
func (e *env) unlockConfig(ctx context.Context, cfg *vault.Config, s *secretFlags) (*vault.Key, error) {
	if err := s.forConfig(cfg); err != nil {
		return nil, err
	}
	pw, err := e.readPassword(ctx, s, false)
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	e.infof("Decrypting master key\n")
	return cfg.Unlock(pw)
}

func runFsck(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*fsckOptions)
	e.infow = e.stderr
	if err := exactArgs(args, "CIPHERDIR"); err != nil {
		return err
	}
	if o.dryRun && !o.repair {
		return usageErrorf("-dry-run needs -repair")
	}
	dir := args[0]
	if isReverseDir(dir, o.open.config) {
		return usageErrorf("%s is a reverse-mode plaintext directory; fsck checks ciphertext (e.g. the output of sealfs export)", dir)
	}
	loc, cfg, key, err := e.openKey(ctx, dir, &o.open)
	if err != nil {
		return err
	}
	defer loc.close()
	defer key.Destroy()
	prog := newProgress(e)
	var mu sync.Mutex // the progress callback runs on its own goroutine
	fo := &fsck.Options{
		Repair: o.repair,
		DryRun: o.dryRun,
		OnFinding: func(f fsck.Finding) {
			mu.Lock()
			defer mu.Unlock()
			prog.clearLine()
			fmt.Fprintln(e.stdout, formatFinding(&f))
		},
		OnAction: func(a fsck.Action) {
			mu.Lock()
			defer mu.Unlock()
			prog.clearLine()
			fmt.Fprintln(e.stdout, formatAction(&a, o.dryRun))
		},
	}
	if prog.enabled {
		fo.OnProgress = func(p fsck.Progress) {
			mu.Lock()
			defer mu.Unlock()
			prog.objects, prog.bytes = p.Dirs+p.Files, p.Bytes
			prog.show(false)
		}
	}
	rep, err := loc.check(ctx, cfg, key, fo)
	prog.done()
	if err == nil {
		err = loc.close() // a bucket vault's repairs are uploaded
	}
	if err != nil {
		return err
	}
	errs, warns := rep.Errors(), len(rep.Findings)-rep.Errors()
	left := errs
	switch {
	case len(rep.Findings) == 0:
		fmt.Fprintln(e.stdout, "fsck summary: no problems found")
	case o.repair && !o.dryRun:
		left = rep.Unrepaired()
		fmt.Fprintf(e.stdout, "fsck summary: %s, %s; %s done; %s left\n", plural(errs, "problem"), plural(warns, "warning"),
			plural(countDone(rep), "repair"), plural(left, "problem"))
	default:
		fmt.Fprintf(e.stdout, "fsck summary: %s, %s\n", plural(errs, "problem"), plural(warns, "warning"))
	}
	if left > 0 {
		return exitCodeError(exitFsckErrors)
	}
	return nil
}

// plural returns "1 thing" or "N things".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func countDone(rep *fsck.Report) int {
	n := 0
	for _, a := range rep.Actions {
		if a.Done {
			n++
		}
	}
	return n
}

// formatFinding renders one problem line.
func formatFinding(f *fsck.Finding) string {
	var b strings.Builder
	b.WriteString("fsck: ")
	if f.Warning {
		b.WriteString("warning: ")
	}
	plain := f.PlainPath
	if plain == "" {
		plain = "?"
		if f.PlainDir != "" {
			plain = strings.TrimPrefix(f.PlainDir+"/?", "./")
		}
	}
	fmt.Fprintf(&b, "%s: %q (ciphertext %q): %v", kindText[f.Kind], plain, f.CipherPath, f.Err)
	return b.String()
}

var kindText = map[fsck.Kind]string{
	fsck.KindDirIV: "bad directory IV", fsck.KindName: "undecryptable name", fsck.KindLongName: "bad long name",
	fsck.KindOrphanName: "orphaned long-name file", fsck.KindShortFile: "file shorter than a header",
	fsck.KindHeader: "corrupt header", fsck.KindBlock: "corrupt block", fsck.KindSymlink: "corrupt symlink",
	fsck.KindXattrName: "corrupt xattr name", fsck.KindXattrValue: "corrupt xattr value", fsck.KindIO: "read error",
}

// formatAction renders one repair line.
func formatAction(a *fsck.Action, dryRun bool) string {
	verb := "repaired"
	switch {
	case dryRun:
		verb = "would repair"
	case a.Err != nil:
		return fmt.Sprintf("fsck: repair failed: %v: %v", a, a.Err)
	}
	s := fmt.Sprintf("fsck: %s: %v", verb, a)
	if a.NewPlainPath != "" && a.Kind == fsck.ActMove {
		s += fmt.Sprintf(" (now %q)", a.NewPlainPath)
	}
	return s
}
