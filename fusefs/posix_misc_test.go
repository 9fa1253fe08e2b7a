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
