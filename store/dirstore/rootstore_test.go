package dirstore

import (
	"testing"

	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/storetest"
)

// TestRootStoreConformance runs the portable implementation, which other
// systems use, through the suite here.
func TestRootStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := newRootStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
