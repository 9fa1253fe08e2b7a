//go:build !linux && !darwin && !freebsd

package reverse

import (
	"io/fs"
	"time"
)

// statFields are the parts of the plaintext's stat data the view uses.
// This system's os.FileInfo has none: hard links are not recognised and
// the view's objects carry no Sys data.
type statFields struct {
	dev, ino, nlink uint64
	ctime           time.Time
}

func statOf(fs.FileInfo) (statFields, bool) { return statFields{}, false }

func viewStat(fs.FileInfo, *statEdit) any { return nil }
