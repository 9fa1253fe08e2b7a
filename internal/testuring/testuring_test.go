//go:build linux

package testuring

import (
	"os"
	"strings"
	"testing"
)

func param(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(Param)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestNested: a test that is done with the switch while another (here its
// parent) still needs it leaves the parameter on.
func TestNested(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write " + Param)
	}
	SwitchOn(t)
	t.Run("inner", func(t *testing.T) {
		SwitchOn(t)
		if got := param(t); got != "Y" {
			t.Fatalf("enable_uring %s after SwitchOn", got)
		}
	})
	if got := param(t); got != "Y" {
		t.Fatalf("enable_uring %s after the inner test, while the outer still needs it", got)
	}
}
