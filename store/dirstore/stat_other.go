//go:build !linux && !darwin && !freebsd

package dirstore

import (
	"io/fs"

	"github.com/sealfs/sealfs/store"
)

// sysStat: this system's os.FileInfo carries no inode identity, so
// there is no *store.Stat (the FS then does not share state between
// handles of one file).
func sysStat(fs.FileInfo) (store.Stat, bool) { return store.Stat{}, false }
