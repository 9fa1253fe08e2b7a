package dirstore_test

import (
	"testing"

	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/store/storetest"
)

func TestConformance(t *testing.T) {
	for _, o := range []struct {
		name string
		opts *dirstore.Options
	}{{"default", nil}, {"nocache", &dirstore.Options{NoCache: true}}} {
		t.Run(o.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				s, err := dirstore.New(t.TempDir(), o.opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}
