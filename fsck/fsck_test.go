//go:build linux

package fsck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

// open returns a private copy of golden vault name with its config and key.
func open(t *testing.T, name string) (string, *vault.Config, *vault.Key) {
	t.Helper()
	dir := testvault.Copy(t, name)
	cfgName := vault.DefaultFile
	cfg, err := vault.Load(filepath.Join(dir, cfgName))
	if err != nil {
		t.Fatal(err)
	}
	key, err := vault.ParseKey(testvault.MasterKey(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(key.Destroy)
	return dir, cfg, key
}

func check(t *testing.T, dir string, cfg *vault.Config, key *vault.Key, opts *fsck.Options) *fsck.Report {
	t.Helper()
	rep, err := fsck.Check(context.Background(), dir, cfg, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func describe(r *fsck.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %v (warning=%v)\n", &f, f.Warning)
	}
	return b.String()
}

func TestGoldenVaultsAreClean(t *testing.T) {
	for _, name := range slices.Concat(testvault.Forward, testvault.Reverse) {
		t.Run(name, func(t *testing.T) {
			dir, cfg, key := open(t, name)
			rep := check(t, dir, cfg, key, nil)
			if len(rep.Findings) > 0 {
				t.Fatalf("findings on a clean vault:\n%s", describe(rep))
			}
			files, dirs, links, plain := testvault.ManifestCounts(t, name)
			st := rep.Stats
			if st.Files != files || st.Dirs != dirs+1 || st.Symlinks != links || st.PlainBytes != plain {
				t.Errorf("stats %+v, manifest: %d files, %d dirs (+root), %d symlinks, %d bytes", st, files, dirs, links, plain)
			}
		})
	}
}

// damage is one planted corruption: it changes the vault and names the
// ciphertext path (relative) and kind expected.
type damage struct {
	name    string
	apply   func(t *testing.T, dir string)
	cpath   string
	kind    fsck.Kind
	warning bool
}

// Ciphertext names in the golden "default" vault (cipher-map.json).
const (
	cOneByte  = "IfeXduNyF6L0SFhD8MKdnw"                      // one-byte.txt
	c4097     = "-rKecRqo2Zg1_WQg8qWrJQpoKHB7WrFNjL14NnUdL9o" // exactly-4097.bin
	c4096     = "BBvP7Oqyo1ochS_13xaMuljuqzNuqcLbtZobK_MXZ8Q" // exactly-4096.bin
	cText     = "-iOJB_2WnuTUQDTsEpdPlw"                      // text.txt (xattrs)
	cFifteen  = "BkBUcs9riF-35r8kk0HNIQ"                      // fifteen-bytes.x
	cPrivate  = "plCTeDPzH_hGg-ONkSkwHA"                      // private.txt
	cDir1     = "jYpSh0j7v1gReDddZhwXNA"                      // dir1
	cDir2     = cDir1 + "/ZYsIFdIlo2QParlSSnVdVA"             // dir1/dir2
	cEmptyDir = "ktB-ADykR9vi9nN9hC742A"                      // empty-dir
	cN176     = "gocryptfs.longname.e1rHAknrxnDtfIAqDK_jRmFriMqHqFR2V-m2283c6CU"
	cSymRel   = "kEpce83KBJderFZn1LTQbj9zkZ1XO928p3w_NBbiq0k" // symlink-relative
	cBig      = "ZIBDh0Siirea9loAk5NGnXcfGIzM6bxiSLzRS8iHU0Y" // big-1MiB-plus-123.bin
	cSparse   = "JHDd5O-rIBBb4smc-Av06g"                      // sparse-hole.bin
)

func flip(off int64) func(t *testing.T, p string) {
	return func(t *testing.T, p string) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 {
			off += int64(len(b))
		}
		b[off] ^= 0x40
		writeForce(t, p, b)
	}
}

// writeForce replaces a file's content even if it is read-only.
func writeForce(t *testing.T, p string, b []byte) {
	t.Helper()
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func at(rel string, fn func(t *testing.T, p string)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) { fn(t, filepath.Join(dir, rel)) }
}

func truncTo(n int64) func(t *testing.T, p string) {
	return func(t *testing.T, p string) {
		os.Chmod(p, 0o644)
		if n < 0 {
			fi, _ := os.Stat(p)
			n += fi.Size()
		}
		if err := os.Truncate(p, n); err != nil {
			t.Fatal(err)
		}
	}
}

func removeFile(t *testing.T, p string) {
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// damages are the planted corruptions, each applied to a fresh copy of
// the default vault on its own and all together.
var damages = []damage{
	{name: "block", apply: at(cOneByte, flip(30)), cpath: cOneByte, kind: fsck.KindBlock},
	{name: "late-block", apply: at(cBig, flip(100*4128+500)), cpath: cBig, kind: fsck.KindBlock},
	{name: "header-version", apply: at(c4097, flip(0)), cpath: c4097, kind: fsck.KindHeader},
	{name: "header-id", apply: at(c4096, flip(7)), cpath: c4096, kind: fsck.KindBlock},
	{name: "truncated-block", apply: at(cSparse, truncTo(-110)), cpath: cSparse, kind: fsck.KindBlock},
	{name: "short-file", apply: at(cText, truncTo(10)), cpath: cText, kind: fsck.KindShortFile, warning: true},
	{name: "name", apply: func(t *testing.T, dir string) {
		// A different valid-looking base64 name that does not decrypt.
		if err := os.Rename(filepath.Join(dir, cPrivate), filepath.Join(dir, "QlCTeDPzH_hGg-ONkSkwHA")); err != nil {
			t.Fatal(err)
		}
	}, cpath: "QlCTeDPzH_hGg-ONkSkwHA", kind: fsck.KindName},
	{name: "diriv-flip", apply: at(cDir2+"/gocryptfs.diriv", flip(3)), cpath: cDir2 + "/QCdBcsvibCh_rj7YWHYYkQ", kind: fsck.KindName},
	{name: "diriv-missing", apply: at(cDir2+"/gocryptfs.diriv", removeFile), cpath: cDir2 + "/gocryptfs.diriv", kind: fsck.KindDirIV},
	{name: "diriv-missing-empty", apply: at(cEmptyDir+"/gocryptfs.diriv", removeFile), cpath: cEmptyDir + "/gocryptfs.diriv", kind: fsck.KindDirIV},
	{name: "diriv-short", apply: at(cDir1+"/gocryptfs.diriv", truncTo(15)), cpath: cDir1 + "/gocryptfs.diriv", kind: fsck.KindDirIV},
	{name: "longname-file", apply: at(cN176+".name", flip(5)), cpath: cN176, kind: fsck.KindLongName},
	{name: "orphan-name", apply: func(t *testing.T, dir string) {
		p := filepath.Join(dir, "gocryptfs.longname.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name")
		if err := os.WriteFile(p, []byte("xyz"), 0o444); err != nil {
			t.Fatal(err)
		}
	}, cpath: "gocryptfs.longname.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name", kind: fsck.KindOrphanName, warning: true},
	{name: "symlink", apply: func(t *testing.T, dir string) {
		p := filepath.Join(dir, cSymRel)
		target, _ := os.Readlink(p)
		b := []byte(target)
		b[30] ^= 1 // still base64, does not authenticate
		os.Remove(p)
		if err := os.Symlink(string(b), p); err != nil {
			t.Fatal(err)
		}
	}, cpath: cSymRel, kind: fsck.KindSymlink},
	{name: "xattr-value", apply: func(t *testing.T, dir string) {
		p := filepath.Join(dir, cText)
		const n = "user.gocryptfs.MiOh7KLDVHo_Z_H88o4iYQ"
		v := make([]byte, 256)
		k, err := unix.Lgetxattr(p, n, v)
		if err != nil {
			t.Fatal(err)
		}
		v[k-1] ^= 1
		if err := unix.Lsetxattr(p, n, v[:k], 0); err != nil {
			t.Fatal(err)
		}
	}, cpath: cText, kind: fsck.KindXattrValue},
	{name: "xattr-name", apply: func(t *testing.T, dir string) {
		if err := unix.Lsetxattr(filepath.Join(dir, cOneByte), "user.gocryptfs.AAAAAAAAAAAAAAAAAAAAAA", []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
	}, cpath: cOneByte, kind: fsck.KindXattrName},
}

func TestPlantedDamage(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir, cfg, key := open(t, "default")
			d.apply(t, dir)
			rep := check(t, dir, cfg, key, nil)
			if len(rep.Findings) != 1 {
				t.Fatalf("want 1 finding, got:\n%s", describe(rep))
			}
			f := rep.Findings[0]
			if f.Kind != d.kind || f.CipherPath != d.cpath || f.Warning != d.warning {
				t.Fatalf("got %v (warning=%v), want kind %v at %s (warning=%v)", &f, f.Warning, d.kind, d.cpath, d.warning)
			}
			if !errors.Is(f.Err, fsck.ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", f.Err)
			}
			if wantErrs := map[bool]int{false: 1, true: 0}[d.warning]; rep.Errors() != wantErrs {
				t.Errorf("Errors() = %d, want %d", rep.Errors(), wantErrs)
			}
		})
	}
}

func TestHeaderOnlyFileIsClean(t *testing.T) {
	dir, cfg, key := open(t, "default")
	truncTo(18)(t, filepath.Join(dir, cText))
	if rep := check(t, dir, cfg, key, nil); len(rep.Findings) != 0 {
		t.Fatalf("an 18-byte file is a valid empty file:\n%s", describe(rep))
	}
}

func TestOtherSuitesAndModes(t *testing.T) {
	// One flipped byte in the last block of every file: each file is found.
	for _, name := range []string{"xchacha", "aessiv", "plaintextnames", "deterministic-names", "longnamemax62"} {
		t.Run(name, func(t *testing.T) {
			dir, cfg, key := open(t, name)
			want := flipLastBlocks(t, dir, name)
			rep := check(t, dir, cfg, key, nil)
			var got []string
			for _, f := range rep.Findings {
				if f.Kind != fsck.KindBlock || f.PlainPath == "" {
					t.Errorf("unexpected finding %v", &f)
				}
				got = append(got, f.CipherPath)
			}
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Fatalf("corrupt files %q, want %q", got, want)
			}
		})
	}
}

// flipLastBlocks damages the last block of every ciphertext file of
// golden vault name (copied to dir) that does not end in a hole, and
// returns their ciphertext paths, sorted.
func flipLastBlocks(t *testing.T, dir, name string) []string {
	var want []string
	for _, e := range testvault.Listing(t, name) {
		if e.Type != "file" || e.Size <= 18 || strings.HasSuffix(e.Path, ".name") ||
			strings.HasSuffix(e.Path, "gocryptfs.diriv") || e.Path == "gocryptfs.conf" {
			continue
		}
		p := filepath.Join(dir, e.Path)
		b, _ := os.ReadFile(p)
		if bytes.Count(b[len(b)-20:], []byte{0}) == 20 {
			continue // ends in a hole
		}
		flip(-5)(t, p)
		want = append(want, e.Path)
	}
	sort.Strings(want)
	return want
}

// readable returns the plaintext path and SHA-256 of every file that
// decrypts, found by a clean check's stats walk: a file is readable if
// fsck has no finding for it.
func readableFiles(t *testing.T, dir string, cfg *vault.Config, key *vault.Key) map[string][32]byte {
	return readAll(t, dir, cfg, key)
}

func TestRepair(t *testing.T) {
	dir, cfg, key := open(t, "default")
	before := readableFiles(t, dir, cfg, key)
	repairable := []string{"header-version", "header-id", "short-file", "name", "diriv-missing", "diriv-missing-empty", "longname-file", "orphan-name"}
	for _, d := range damages {
		if slices.Contains(repairable, d.name) {
			d.apply(t, dir)
		}
	}
	// The damaged files are not readable before the repair.
	damaged := readableFiles(t, dir, cfg, key)
	if len(damaged) >= len(before) {
		t.Fatalf("damage did not make files unreadable: %d vs %d", len(damaged), len(before))
	}
	snap := snapshotCipher(t, dir)
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true, DryRun: true})
	if len(rep.Actions) == 0 || rep.Actions[0].Done {
		t.Fatalf("dry run planned %v", rep.Actions)
	}
	if snapshotCipher(t, dir) != snap {
		t.Fatal("dry run changed the vault")
	}
	rep = check(t, dir, cfg, key, &fsck.Options{Repair: true})
	for _, a := range rep.Actions {
		t.Logf("action: %v", &a)
		if !a.Done || a.Err != nil {
			t.Errorf("action %v: done=%v err=%v", &a, a.Done, a.Err)
		}
	}
	if n := rep.Unrepaired(); n != 0 {
		t.Errorf("%d problems unrepaired:\n%s", n, describe(rep))
	}
	after := check(t, dir, cfg, key, nil)
	if len(after.Findings) != 0 {
		t.Fatalf("not clean after repair:\n%s", describe(after))
	}
	got := readableFiles(t, dir, cfg, key)
	// Every file readable before the damage is readable now, under its
	// own path or in lost+found, with the same content.
	sums := map[[32]byte]int{}
	for _, s := range got {
		sums[s]++
	}
	for p, s := range before {
		if p == "text.txt" {
			continue // the short-file damage cut its content off
		}
		if g, ok := got[p]; ok && g == s {
			continue
		}
		if sums[s] == 0 {
			t.Errorf("%s: content lost", p)
		}
	}
	for p, s := range damaged {
		if got[p] != s {
			t.Errorf("%s: changed by the repair", p)
		}
	}
	if _, ok := got["lost+found/QlCTeDPzH_hGg-ONkSkwHA"]; !ok {
		t.Errorf("file with the bad name not in lost+found: %v", keys(got))
	}
}

func TestRepairReverseDirIV(t *testing.T) {
	// A forward copy of a reverse view: a missing diriv is re-created with
	// the path-derived IV, so every name decrypts again.
	dir, cfg, key := open(t, "reverse")
	var sub string
	for _, e := range testvault.Listing(t, "reverse") {
		if e.Type == "dir" && e.Path != "" && e.Path != "." {
			sub = e.Path
			break
		}
	}
	removeFile(t, filepath.Join(dir, sub, "gocryptfs.diriv"))
	before := check(t, dir, cfg, key, nil)
	if before.Errors() != 1 {
		t.Fatalf("findings:\n%s", describe(before))
	}
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true})
	if len(rep.Actions) != 1 || rep.Actions[0].Kind != fsck.ActDirIV || !strings.Contains(rep.Actions[0].Detail, "recovered") {
		t.Fatalf("actions %v", rep.Actions)
	}
	if after := check(t, dir, cfg, key, nil); len(after.Findings) != 0 {
		t.Fatalf("after repair:\n%s", describe(after))
	}
}

func TestCancel(t *testing.T) {
	dir, cfg, key := open(t, "default")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fsck.Check(ctx, dir, cfg, key, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	_, cfg, key := open(t, "default")
	if _, err := fsck.Check(context.Background(), filepath.Join(t.TempDir(), "missing"), cfg, key, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := fsck.Check(context.Background(), f, cfg, key, nil); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("file as dir: %v", err)
	}
	// A wrong key makes every name undecryptable: reported, no panic.
	dir, _, _ := open(t, "default")
	wrong, _ := vault.GenerateKey()
	rep := check(t, dir, cfg, wrong, nil)
	if rep.Errors() == 0 {
		t.Error("wrong key: no findings")
	}
}

func TestProgressAndCallbacks(t *testing.T) {
	dir, cfg, key := open(t, "default")
	at(cOneByte, flip(30))(t, dir)
	var seen []fsck.Finding
	var last fsck.Progress
	calls := 0
	rep := check(t, dir, cfg, key, &fsck.Options{Workers: 1,
		OnFinding:  func(f fsck.Finding) { seen = append(seen, f) },
		OnProgress: func(p fsck.Progress) { last = p; calls++ }})
	if len(seen) != 1 || len(rep.Findings) != 1 {
		t.Fatalf("callback saw %d, report has %d", len(seen), len(rep.Findings))
	}
	if calls == 0 || last.Files != rep.Stats.Files || last.Findings != 1 || last.Bytes == 0 {
		t.Fatalf("progress %+v after %d calls, stats %+v", last, calls, rep.Stats)
	}
}

func keys(m map[string][32]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// snapshotCipher hashes the ciphertext tree (see testvault.TreeHash).
func snapshotCipher(t *testing.T, dir string) string { return testvault.TreeHash(t, dir) }

// TestHostileTree: FIFOs and symlinks where files are expected, a huge
// .name file: reported, no hang, no panic.
func TestHostileTree(t *testing.T) {
	dir, cfg, key := open(t, "default")
	d := filepath.Join(dir, cDir1)
	os.Remove(filepath.Join(d, "gocryptfs.diriv"))
	if err := unix.Mkfifo(filepath.Join(d, "gocryptfs.diriv"), 0o644); err != nil {
		t.Fatal(err)
	}
	nf := filepath.Join(dir, cN176+".name")
	os.Remove(nf)
	if err := unix.Mkfifo(nf, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "gocryptfs.longname.e1rHAknrxnDtfIAqDK_jRmFriMqHqFR2V-m2283c6CD")
	os.WriteFile(big, nil, 0o644)
	os.WriteFile(big+".name", bytes.Repeat([]byte("A"), 1<<20), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "gocryptfs.longname.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "gocryptfs.longname.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name"))
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true, DryRun: true})
	got := map[string]fsck.Kind{}
	for _, f := range rep.Findings {
		if got[f.CipherPath] == 0 || f.Kind == fsck.KindLongName {
			got[f.CipherPath] = f.Kind
		}
	}
	want := map[string]fsck.Kind{
		cDir1 + "/gocryptfs.diriv": fsck.KindDirIV,
		cN176:                      fsck.KindLongName,
		filepath.Base(big):         fsck.KindLongName,
		"gocryptfs.longname.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA": fsck.KindLongName,
	}
	for p, k := range want {
		if got[p] != k {
			t.Errorf("%s: kind %v, want %v\n%s", p, got[p], k, describe(rep))
		}
	}
}

func TestIgnoredInitFlagsVaultsAreClean(t *testing.T) {
	for _, name := range []string{"raw64-false", "longnames-false", "hkdf-false"} {
		name = "ignored-init-flags/" + name
		dir := filepath.Join(t.TempDir(), "v")
		if err := testvault.CopyTree(filepath.Join(testvault.Dir(t), name, "cipher"), dir); err != nil {
			t.Fatal(err)
		}
		cfg, err := vault.Load(filepath.Join(dir, vault.DefaultFile))
		if err != nil {
			t.Fatal(err)
		}
		key, err := vault.ParseKey(testvault.MasterKey(t, name))
		if err != nil {
			t.Fatal(err)
		}
		rep := check(t, dir, cfg, key, nil)
		if len(rep.Findings) != 0 || rep.Stats.Dirs != 1 || rep.Stats.Files != 0 {
			t.Errorf("%s: %+v\n%s", name, rep.Stats, describe(rep))
		}
	}
}

// TestRepairSuspectIV: when no name of a directory decrypts, its diriv is
// the likely damage: the entries are reported but not moved.
func TestRepairSuspectIV(t *testing.T) {
	dir, cfg, key := open(t, "default")
	at(cDir1+"/gocryptfs.diriv", flip(3))(t, dir) // dir1 has 4 entries
	snap := snapshotCipher(t, dir)
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true})
	if rep.Errors() < 2 || len(rep.Actions) != 0 {
		t.Fatalf("%d errors, actions %v", rep.Errors(), rep.Actions)
	}
	for _, f := range rep.Findings {
		if f.Kind == fsck.KindName && !strings.Contains(f.Err.Error(), "probably damaged") {
			t.Errorf("%v", &f)
		}
	}
	if snapshotCipher(t, dir) != snap {
		t.Fatal("vault changed")
	}
}
