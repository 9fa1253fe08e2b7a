package sealfs

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
)

// ACL attribute names pass through unencrypted (FORMAT.md §8).
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// IsACLXattr reports whether attr names a POSIX ACL
// (system.posix_acl_access or system.posix_acl_default), which the vault
// stores unencrypted on the ciphertext.
func IsACLXattr(attr string) bool { return attr == aclAccess || attr == aclDefault }

func (f *FS) xattrStore(op, name string) (XattrStore, error) {
	xs, ok := f.store.(XattrStore)
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: errors.ErrUnsupported}
	}
	return xs, nil
}

func (f *FS) xattrName(attr string) (string, error) {
	if attr == "" || strings.IndexByte(attr, 0) >= 0 {
		return "", syscall.EINVAL
	}
	if IsACLXattr(attr) {
		return attr, nil
	}
	return f.nt.EncryptXattrName(attr)
}

// xattrLoc locates name for an xattr operation; xattrs act on the object
// itself, not on a symlink's target (l*xattr semantics).
func (f *FS) xattrLoc(op, name string) (entryLoc, error) {
	if err := f.checkPath(op, name); err != nil {
		return entryLoc{}, err
	}
	var l entryLoc
	err := f.retryNotDir(name, func(p string) error {
		var err error
		l, err = f.locate(p)
		return err
	})
	return l, pathErr(op, name, err)
}

// Getxattr returns the value of extended attribute attr of the named
// object (not following a final symlink).
func (f *FS) Getxattr(name, attr string) ([]byte, error) {
	xs, err := f.xattrStore("getxattr", name)
	if err != nil {
		return nil, err
	}
	l, err := f.xattrLoc("getxattr", name)
	if err != nil {
		return nil, err
	}
	cattr, err := f.xattrName(attr)
	if err != nil {
		return nil, pathErr("getxattr", name, err)
	}
	cval, err := xs.Getxattr(l.cpath, cattr)
	if err != nil {
		return nil, pathErr("getxattr", name, err)
	}
	if IsACLXattr(attr) || len(cval) == 0 {
		return cval, nil
	}
	val, err := layout.DecryptXattrValue(f.codec, cval)
	if err != nil {
		f.reportCorrupt(name, err)
		return nil, pathErr("getxattr", name, err)
	}
	return val, nil
}

// Setxattr sets extended attribute attr of the named object. flags are
// those of setxattr(2) (XATTR_CREATE, XATTR_REPLACE).
func (f *FS) Setxattr(name, attr string, value []byte, flags int) error {
	if err := f.checkWrite("setxattr", name); err != nil {
		return err
	}
	xs, err := f.xattrStore("setxattr", name)
	if err != nil {
		return err
	}
	l, err := f.xattrLoc("setxattr", name)
	if err != nil {
		return err
	}
	cattr, err := f.xattrName(attr)
	if err != nil {
		return pathErr("setxattr", name, err)
	}
	if len(cattr) > 255 {
		return &fs.PathError{Op: "setxattr", Path: name, Err: syscall.ERANGE}
	}
	cval := value
	if !IsACLXattr(attr) {
		cval = layout.EncryptXattrValue(f.codec, value)
	}
	return pathErr("setxattr", name, xs.Setxattr(l.cpath, cattr, cval, flags))
}

// Listxattr lists the extended attribute names of the named object.
// Attributes of the ciphertext that are not sealfs' own are not shown;
// undecryptable ones are reported through Options.OnCorrupt.
func (f *FS) Listxattr(name string) ([]string, error) {
	xs, err := f.xattrStore("listxattr", name)
	if err != nil {
		return nil, err
	}
	l, err := f.xattrLoc("listxattr", name)
	if err != nil {
		return nil, err
	}
	clist, err := xs.Listxattr(l.cpath)
	if err != nil {
		return nil, pathErr("listxattr", name, err)
	}
	var out []string
	for _, c := range clist {
		if IsACLXattr(c) {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, names.XattrPrefix) {
			continue
		}
		attr, err := f.nt.DecryptXattrName(c)
		if err != nil {
			f.reportCorrupt(name, errors.Join(errors.New("undecryptable xattr name "+c), err))
			continue
		}
		if IsACLXattr(attr) {
			continue
		}
		out = append(out, attr)
	}
	return out, nil
}

// Removexattr removes extended attribute attr of the named object.
func (f *FS) Removexattr(name, attr string) error {
	if err := f.checkWrite("removexattr", name); err != nil {
		return err
	}
	xs, err := f.xattrStore("removexattr", name)
	if err != nil {
		return err
	}
	l, err := f.xattrLoc("removexattr", name)
	if err != nil {
		return err
	}
	cattr, err := f.xattrName(attr)
	if err != nil {
		return pathErr("removexattr", name, err)
	}
	return pathErr("removexattr", name, xs.Removexattr(l.cpath, cattr))
}

// EncryptPath returns the ciphertext path (relative to the vault root) of
// a plaintext path, as the gocryptfs control socket does: the parent
// directories must exist, the last element need not. Long elements are
// returned in their hashed form.
func (f *FS) EncryptPath(plain string) (string, error) {
	if err := f.checkPath("encryptpath", plain); err != nil {
		return "", err
	}
	if plain == "." {
		return "", nil
	}
	l, err := f.locate(plain)
	if err == nil && !f.plainNames && !f.dirIV && l.dir.cpath != "." {
		// Without directory IVs nothing above has touched the disk: the
		// parent must exist, as gocryptfs' answer requires.
		var fi fs.FileInfo
		if fi, err = f.store.Lstat(l.dir.cpath); err == nil && !fi.IsDir() {
			err = syscall.ENOTDIR
		}
	}
	if err != nil {
		return "", pathErr("encryptpath", plain, err)
	}
	return l.cpath, nil
}

// DecryptPath returns the plaintext path of a ciphertext path relative to
// the vault root. Hashed long elements are resolved through their .name
// files, so the path must exist.
func (f *FS) DecryptPath(cipher string) (string, error) {
	if err := f.checkPath("decryptpath", cipher); err != nil {
		return "", err
	}
	if cipher == "." {
		return "", nil
	}
	if f.plainNames {
		return cipher, nil
	}
	plain := "."
	d, err := f.dir(".")
	if err != nil {
		return "", pathErr("decryptpath", cipher, err)
	}
	elems := strings.Split(cipher, "/")
	for i, stored := range elems {
		l := entryLoc{dir: d, stored: stored, full: stored, cpath: layout.Join(d.cpath, stored)}
		name, err := f.decryptEntry(&l)
		if err != nil {
			return "", pathErr("decryptpath", cipher, err)
		}
		plain = path.Join(plain, name)
		if i < len(elems)-1 {
			if d, err = f.dir(plain); err != nil {
				return "", pathErr("decryptpath", cipher, err)
			}
		}
	}
	return plain, nil
}
