//go:build !linux

package s3store

import "os"

// startWriteback: only Linux has sync_file_range.
func startWriteback(*os.File, int64, int64) {}
