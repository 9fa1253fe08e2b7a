//go:build !linux

package testvault

import "errors"

var errNoXattrs = errors.New("testvault: xattrs are supported on Linux only")

func lsetxattr(string, string, []byte) error { return errNoXattrs }

// OSXattrs reads the user-visible xattrs of a path below root on the
// local file system (Linux only).
func OSXattrs(root string) Xattrs {
	return func(string) (map[string][]byte, error) { return nil, errNoXattrs }
}
