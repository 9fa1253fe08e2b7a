package testvault

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func lsetxattr(p, name string, val []byte) error { return unix.Lsetxattr(p, name, val, 0) }

// OSXattrs reads the user-visible xattrs of a path below root on the
// local file system.
func OSXattrs(root string) Xattrs {
	return func(p string) (map[string][]byte, error) {
		full := filepath.Join(root, p)
		buf := make([]byte, 64*1024)
		n, err := unix.Llistxattr(full, buf)
		if err != nil {
			return nil, err
		}
		m := map[string][]byte{}
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name == "" {
				continue
			}
			v := make([]byte, 64*1024)
			k, err := unix.Lgetxattr(full, name, v)
			if err != nil {
				return nil, err
			}
			m[name] = v[:k]
		}
		return m, nil
	}
}
