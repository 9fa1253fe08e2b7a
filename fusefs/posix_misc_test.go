//go:build linux

package fusefs

import (
	"strconv"
	"testing"
)

// Data-path limits on an -allow_other mount, compared with the host
// directory.
func TestPOSIXLimits(t *testing.T) {
	pm := mountPOSIX(t, nil)
	t.Run("SEEK_DATA and SEEK_HOLE", func(t *testing.T) {
		// 4 KiB of data at 5 MiB and at 9 MiB in a 12 MiB file: ext4 and
		// tmpfs find the same segments (the vault's answers are right to
		// the 4 KiB block).
		pm.sameAsHost(t, nobody, `dd if=/dev/urandom of=sp bs=4096 count=1 seek=1280 2>/dev/null && dd if=/dev/urandom of=sp bs=4096 count=1 seek=2304 conv=notrunc 2>/dev/null && truncate -s 12M sp`)
		out := pm.sameAsHost(t, nobody, helperCmd("segments", "sp"))
		want := "5242880 5246976\n9437184 9441280\nSEEK_DATA -1 no such device or address\nSEEK_DATA 12582912 no such device or address\n"
		if out != want {
			t.Fatalf("segments:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("copy_file_range beyond the largest file", func(t *testing.T) {
		pm.sameAsHost(t, nobody, `printf 0123456789 > src`)
		for _, c := range []struct {
			off  int64
			want string
		}{{0, "10\n"}, {1 << 62, "EFBIG\n"}, {1<<63 - 5, "EFBIG\n"}} {
			out := pm.sameAsHost(t, nobody, helperCmd("copyrange", "src", "dst", strconv.FormatInt(c.off, 10)))
			if out != c.want {
				t.Errorf("copy_file_range to offset %d: %q, want %q", c.off, out, c.want)
			}
		}
	})
}
