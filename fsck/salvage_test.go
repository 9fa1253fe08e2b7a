//go:build linux

package fsck_test

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

// readPlain returns the plaintext of the file at plaintext path p, or the
// read error.
func readPlain(t *testing.T, dir string, key *vault.Key, p string) ([]byte, error) {
	t.Helper()
	v := openReadOnly(t, dir, key)
	defer v.Close()
	return fs.ReadFile(v, p)
}

func mustReadPlain(t *testing.T, dir string, key *vault.Key, p string) []byte {
	t.Helper()
	b, err := readPlain(t, dir, key, p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return b
}

// zeroed is orig cut or padded with zeros to size, with the ranges zero.
func zeroed(orig []byte, size int64, lost []fsck.ByteRange) []byte {
	b := make([]byte, size)
	copy(b, orig)
	for _, r := range lost {
		clear(b[r.Off : r.Off+r.Len])
	}
	return b
}

// TestRepairSalvage: files with corrupt blocks are salvaged. Every
// readable byte stays, the unreadable ranges read as zeros and are
// listed, the damaged original is kept byte for byte in lost+found, and
// the vault is clean afterwards, for sealfs and for gocryptfs.
func TestRepairSalvage(t *testing.T) {
	dir, cfg, key := open(t, "default")
	const cb = 4096 + 32
	type want struct {
		plain string
		size  int64 // plaintext size after the salvage
		lost  []fsck.ByteRange
	}
	wants := map[string]want{
		// Its only, partial block.
		cOneByte: {"one-byte.txt", 1, []fsck.ByteRange{{0, 1}}},
		// Blocks 3 and 4 (one range) and the partial last block 256.
		cBig: {"big-1MiB-plus-123.bin", 1048699, []fsck.ByteRange{{3 * 4096, 2 * 4096}, {256 * 4096, 123}}},
		// The last block cut to 26 bytes: too short for data, counted as
		// one byte (FORMAT.md §5.4), so the file stays 20481 bytes long.
		cSparse: {"sparse-hole.bin", 20481, []fsck.ByteRange{{5 * 4096, 1}}},
		// Two bytes of the file ID: no header makes a block
		// authenticate, nothing is readable.
		c4097: {"exactly-4097.bin", 4097, []fsck.ByteRange{{0, 4097}}},
	}
	orig := map[string][]byte{}
	for _, w := range wants {
		orig[w.plain] = mustReadPlain(t, dir, key, w.plain)
	}
	at(cOneByte, flip(30))(t, dir)
	at(cBig, flip(18+3*cb+9))(t, dir)
	at(cBig, flip(18+4*cb+4000))(t, dir)
	at(cBig, flip(-5))(t, dir)
	at(cSparse, truncTo(-110))(t, dir)
	at(c4097, flip(3))(t, dir)
	at(c4097, flip(4))(t, dir)
	damaged := map[string][]byte{}
	inodes := map[string]os.FileInfo{}
	for cp, w := range wants {
		if _, err := readPlain(t, dir, key, w.plain); err == nil {
			t.Fatalf("%s: readable after the damage", w.plain)
		}
		damaged[cp], _ = os.ReadFile(filepath.Join(dir, cp))
		inodes[cp], _ = os.Stat(filepath.Join(dir, cp))
	}

	snap := snapshotCipher(t, dir)
	plan := check(t, dir, cfg, key, &fsck.Options{Repair: true, DryRun: true})
	if snapshotCipher(t, dir) != snap {
		t.Fatal("dry run changed the vault")
	}
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true})
	if rep.Unrepaired() != 0 {
		t.Fatalf("%d problems unrepaired:\n%s", rep.Unrepaired(), describe(rep))
	}
	if !slices.EqualFunc(plan.Actions, rep.Actions, func(a, b fsck.Action) bool {
		return a.Kind == b.Kind && a.CipherPath == b.CipherPath && a.NewPlainPath == b.NewPlainPath &&
			slices.Equal(a.Lost, b.Lost) && !a.Done && b.Done && b.Err == nil
	}) {
		t.Fatalf("the dry run planned\n%v\nthe repair did\n%v", plan.Actions, rep.Actions)
	}
	salvaged := 0
	for _, a := range rep.Actions {
		t.Logf("%v", &a)
		if a.Kind != fsck.ActSalvage {
			continue
		}
		salvaged++
		w, ok := wants[a.CipherPath]
		if !ok {
			t.Errorf("salvaged %s", a.CipherPath)
			continue
		}
		if !slices.Equal(a.Lost, w.lost) {
			t.Errorf("%s: lost %v, want %v", w.plain, a.Lost, w.lost)
		}
		if a.NewPlainPath != "lost+found/"+w.plain {
			t.Errorf("%s: original kept as %s", w.plain, a.NewPlainPath)
		}
		if got := mustReadPlain(t, dir, key, w.plain); !bytes.Equal(got, zeroed(orig[w.plain], w.size, w.lost)) {
			t.Errorf("%s: salvaged content differs from the readable original with zeros (%d bytes)", w.plain, len(got))
		}
		if kept, _ := os.ReadFile(filepath.Join(dir, a.NewCipherPath)); !bytes.Equal(kept, damaged[a.CipherPath]) {
			t.Errorf("%s: the copy in lost+found is not the damaged original", w.plain)
		}
		if fi, err := os.Stat(filepath.Join(dir, a.CipherPath)); err != nil || !os.SameFile(fi, inodes[a.CipherPath]) || fi.Mode() != inodes[a.CipherPath].Mode() {
			t.Errorf("%s: salvaged in a new file or with a new mode (%v)", w.plain, err)
		}
		if !strings.Contains(a.Detail, w.lost[0].String()) {
			t.Errorf("%s: detail %q does not name the lost bytes", w.plain, a.Detail)
		}
	}
	if salvaged != len(wants) {
		t.Fatalf("%d salvages, want %d", salvaged, len(wants))
	}
	// Clean now: the only findings are the kept originals, as warnings.
	after := check(t, dir, cfg, key, nil)
	if after.Errors() != 0 {
		t.Fatalf("not clean after the salvage:\n%s", describe(after))
	}
	for _, f := range after.Findings {
		if !strings.HasPrefix(f.PlainPath, "lost+found/") {
			t.Errorf("finding outside lost+found: %v", &f)
		}
	}
	// Repairing again does nothing.
	if again := check(t, dir, cfg, key, &fsck.Options{Repair: true}); len(again.Actions) != 0 {
		t.Errorf("second repair: %v", again.Actions)
	}
	// gocryptfs reads the salvaged files: without lost+found, its fsck
	// finds nothing.
	bin := testvault.RequireBinary(t, "gocryptfs", true)
	lf := filepath.Dir(filepath.Join(dir, rep.Actions[len(rep.Actions)-1].NewCipherPath))
	if err := os.RemoveAll(lf); err != nil {
		t.Fatal(err)
	}
	if code, problems := gocryptfsVerdict(t, bin, dir); code != 0 || len(problems) != 0 {
		t.Fatalf("gocryptfs -fsck: exit %d %q", code, problems)
	}
}

// TestRepairSalvageAfterHeader: a recovered header does not hide a
// corrupt block behind it; the block is salvaged after the header is
// written.
func TestRepairSalvageAfterHeader(t *testing.T) {
	dir, cfg, key := open(t, "default")
	orig := mustReadPlain(t, dir, key, "big-1MiB-plus-123.bin")
	p := filepath.Join(dir, cBig)
	flip(0)(t, p)           // version
	flip(18+3*4128+9)(t, p) // block 3
	rep := check(t, dir, cfg, key, &fsck.Options{Repair: true})
	var kinds []fsck.ActionKind
	for _, a := range rep.Actions {
		kinds = append(kinds, a.Kind)
	}
	if !slices.Equal(kinds, []fsck.ActionKind{fsck.ActHeader, fsck.ActMkdir, fsck.ActSalvage}) || rep.Unrepaired() != 0 {
		t.Fatalf("actions %v, unrepaired %d", rep.Actions, rep.Unrepaired())
	}
	if l := rep.Actions[2].Lost; !slices.Equal(l, []fsck.ByteRange{{3 * 4096, 4096}}) {
		t.Fatalf("lost %v", l)
	}
	if got := mustReadPlain(t, dir, key, "big-1MiB-plus-123.bin"); !bytes.Equal(got, zeroed(orig, int64(len(orig)), rep.Actions[2].Lost)) {
		t.Fatal("salvaged content differs")
	}
	if after := check(t, dir, cfg, key, nil); after.Errors() != 0 {
		t.Fatalf("after:\n%s", describe(after))
	}
}

// TestRepairSalvageRandom flips random content bytes in random files of
// the default vault, many times over: after the repair the vault has no
// errors, every damaged file is salvaged with exactly the blocks that
// were hit listed as lost, and every other byte of every file is as it
// was.
func TestRepairSalvageRandom(t *testing.T) {
	type file struct {
		cipher, plain string
		size          int64 // ciphertext
	}
	sizes := map[string]int64{}
	for _, e := range testvault.Listing(t, "default") {
		if e.Type == "file" && e.Size > 18 {
			sizes[e.Path] = e.Size
		}
	}
	var files []file
	for _, m := range testvault.CipherMap(t, "default") {
		if sz, ok := sizes[m.Cipher]; ok {
			files = append(files, file{m.Cipher, m.Plain, sz})
		}
	}
	if len(files) < 5 {
		t.Fatalf("only %d content files", len(files))
	}
	const cb = 4096 + 32
	for seed := range 12 {
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			dir, cfg, key := open(t, "default")
			before := readAll(t, dir, cfg, key)
			orig := map[string][]byte{}
			hit := map[string]map[int64]bool{}  // cipher path -> blocks
			flips := map[string]map[int64]int{} // cipher path -> offset -> count
			for range 1 + rng.IntN(3) {
				f := files[rng.IntN(len(files))]
				if orig[f.cipher] == nil {
					orig[f.cipher] = mustReadPlain(t, dir, key, f.plain)
					hit[f.cipher] = map[int64]bool{}
					flips[f.cipher] = map[int64]int{}
				}
				for range 1 + rng.IntN(4) {
					off := 18 + rng.Int64N(f.size-18)
					flip(off)(t, filepath.Join(dir, f.cipher))
					flips[f.cipher][off]++
				}
			}
			// A byte flipped twice is whole again.
			for cp, m := range flips {
				for off, n := range m {
					if n%2 == 1 {
						hit[cp][(off-18)/cb] = true
					}
				}
				if len(hit[cp]) == 0 {
					delete(hit, cp)
				}
			}
			rep := check(t, dir, cfg, key, &fsck.Options{Repair: true})
			if rep.Unrepaired() != 0 {
				t.Fatalf("unrepaired:\n%s", describe(rep))
			}
			if after := check(t, dir, cfg, key, nil); after.Errors() != 0 {
				t.Fatalf("errors after the repair:\n%s", describe(after))
			}
			salvaged := map[string]bool{}
			for _, a := range rep.Actions {
				if a.Kind != fsck.ActSalvage {
					continue
				}
				salvaged[a.CipherPath] = true
				var lostBlocks []int64
				for _, r := range a.Lost {
					for b := r.Off / 4096; b*4096 < r.Off+r.Len; b++ {
						lostBlocks = append(lostBlocks, b)
					}
				}
				var want []int64
				for b := range hit[a.CipherPath] {
					want = append(want, b)
				}
				slices.Sort(want)
				if !slices.Equal(lostBlocks, want) {
					t.Errorf("%s: lost blocks %v, hit %v", a.CipherPath, lostBlocks, want)
				}
				var plain string
				for _, f := range files {
					if f.cipher == a.CipherPath {
						plain = f.plain
					}
				}
				o := orig[a.CipherPath]
				if got := mustReadPlain(t, dir, key, plain); !bytes.Equal(got, zeroed(o, int64(len(o)), a.Lost)) {
					t.Errorf("%s: salvaged content differs", plain)
				}
			}
			for cp := range hit {
				if !salvaged[cp] {
					t.Errorf("%s: damaged, not salvaged", cp)
				}
			}
			got := readAll(t, dir, cfg, key)
			for p, s := range before {
				if !slices.ContainsFunc(files, func(f file) bool { return f.plain == p && hit[f.cipher] != nil }) && got[p] != s {
					t.Errorf("%s: changed or lost", p)
				}
			}
		})
	}
}
