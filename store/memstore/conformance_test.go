package memstore_test

import (
	"testing"

	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}
