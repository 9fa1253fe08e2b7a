//go:build !unix

package store

// Open flags beyond the os package's, for Store.OpenFile. This system has
// neither: opening a directory needs no flag, and ONoFollow is never set.
const (
	ODirectory = 0
	ONoFollow  = 0
)
