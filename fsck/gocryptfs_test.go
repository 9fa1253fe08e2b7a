//go:build linux

package fsck_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/internal/testvault"
)

var gocryptfsLine = regexp.MustCompile(`^fsck: (corrupt entry in dir|error reading dir|error reading file|error reading symlink|corrupt xattr name on file|error reading xattr "[^"]*" from) "(.*?)"`)

// gocryptfsVerdict runs gocryptfs -fsck and returns its exit code and
// the problems it names, as "kind:plaintext path" keys.
func gocryptfsVerdict(t *testing.T, bin, dir string) (int, []string) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(testvault.Password+"\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-fsck", "-q", "-passfile", pw, "--", dir)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Logf("gocryptfs: %s", ee.Stderr)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range strings.Split(string(out), "\n") {
		m := gocryptfsLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		kind := map[string]string{"corrupt entry in dir": "entry", "error reading dir": "dir",
			"error reading file": "file", "error reading symlink": "file", "corrupt xattr name on file": "xattr"}[m[1]]
		if kind == "" {
			kind = "xattr"
		}
		p := m[2]
		if p == "" {
			p = "."
		}
		keys = append(keys, kind+":"+p)
	}
	slices.Sort(keys)
	return code, keys
}

// ourVerdict maps our error findings to gocryptfs' keys.
func ourVerdict(rep *fsck.Report) (int, []string) {
	var keys []string
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Warning {
			continue
		}
		var k string
		switch f.Kind {
		case fsck.KindName, fsck.KindLongName:
			k = "entry:" + f.PlainDir + ":" + f.CipherPath // one per entry
		case fsck.KindDirIV:
			k = "dir:" + f.PlainPath
		case fsck.KindXattrName, fsck.KindXattrValue:
			k = "xattr:" + f.PlainPath
		default:
			k = "file:" + f.PlainPath
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for i, k := range keys {
		if strings.HasPrefix(k, "entry:") {
			keys[i] = k[:strings.LastIndex(k, ":")]
		}
	}
	slices.Sort(keys)
	code := 0
	if rep.Errors() > 0 {
		code = 26
	}
	return code, keys
}

func TestVerdictsMatchGocryptfs(t *testing.T) {
	bin := testvault.RequireBinary(t, "gocryptfs", true)
	byName := map[string]damage{}
	for _, d := range damages {
		byName[d.name] = d
	}
	sets := [][]string{
		{}, // clean
		{"block", "late-block", "header-version", "header-id", "truncated-block", "short-file", "name",
			"diriv-missing-empty", "longname-file", "orphan-name", "symlink", "xattr-value", "xattr-name", "diriv-flip"},
		{"diriv-missing"},
		{"diriv-short"},
		{"short-file", "orphan-name"}, // only warnings: gocryptfs exits 0
	}
	for _, set := range sets {
		t.Run(strings.Join(append([]string{"set"}, set...), "+"), func(t *testing.T) {
			dir, cfg, key := open(t, "default")
			for _, n := range set {
				byName[n].apply(t, dir)
			}
			rep := check(t, dir, cfg, key, nil)
			code, got := ourVerdict(rep)
			wcode, want := gocryptfsVerdict(t, bin, dir)
			if code != wcode || !slices.Equal(got, want) {
				t.Fatalf("sealfs: exit %d %q\ngocryptfs: exit %d %q\nfindings:\n%s", code, got, wcode, want, describe(rep))
			}
		})
	}
}

func TestVerdictsMatchGocryptfsModes(t *testing.T) {
	bin := testvault.RequireBinary(t, "gocryptfs", true)
	for _, name := range []string{"plaintextnames", "xchacha", "longnamemax62"} {
		t.Run(name, func(t *testing.T) {
			dir, cfg, key := open(t, name)
			if len(flipLastBlocks(t, dir, name)) == 0 {
				t.Fatal("nothing damaged")
			}
			rep := check(t, dir, cfg, key, nil)
			code, got := ourVerdict(rep)
			wcode, want := gocryptfsVerdict(t, bin, dir)
			if code != wcode || !slices.Equal(got, want) {
				t.Fatalf("sealfs: exit %d %q\ngocryptfs: exit %d %q", code, got, wcode, want)
			}
		})
	}
}
