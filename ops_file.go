package sealfs

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Whole-file reads and writes, and truncation by name.

// ReadFile reads the whole named file (fs.ReadFileFS).
func (f *FS) ReadFile(name string) ([]byte, error) {
	file, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if file.node == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: syscall.EISDIR}
	}
	file.node.mu.RLock()
	size, err := file.node.cf.Size()
	file.node.mu.RUnlock()
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	// One byte more than the size, so that a file that grows meanwhile is
	// noticed, and so that even an "empty" file is really read (a damaged
	// header must give an error, not an empty result).
	buf := make([]byte, size+1)
	var n int
	for {
		c, err := file.ReadAt(buf[n:], int64(n))
		n += c
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
}

// WriteFile writes data to the named file, creating it with perm if needed
// and truncating it otherwise (os.WriteFile).
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	file, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = file.WriteAt(data, 0)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}

// Truncate changes the size of the named file, following symlinks.
func (f *FS) Truncate(name string, size int64) error {
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: name, Err: syscall.EINVAL}
	}
	file, err := f.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return pathErr("truncate", name, unwrapPath(err))
	}
	err = file.Truncate(size)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return err
}
