//go:build !linux && !darwin && !freebsd

package store

import (
	"io/fs"
)

// SysStat returns the stat data of fi: its Sys() if that is a *Stat. This
// system's os.FileInfo carries no inode identity to convert.
func SysStat(fi fs.FileInfo) (Stat, bool) {
	if st, ok := fi.Sys().(*Stat); ok {
		return *st, true
	}
	return Stat{}, false
}
