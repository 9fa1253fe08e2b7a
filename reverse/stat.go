package reverse

import "time"

// statEdit is how the view's stat data differs from the plaintext's
// (viewStat): the inode number always, the rest where set.
type statEdit struct {
	ino          uint64
	mode         uint32 // unix mode with type bits; 0 keeps it
	nlink        uint64 // 0 keeps it
	size, blocks int64
	setSize      bool
	setBlocks    bool
	zeroRdev     bool
	mtime, ctime time.Time // zero keeps them
}
