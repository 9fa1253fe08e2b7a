package reverse

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// XattrSource reads the extended attributes of the plaintext tree, by
// plaintext path ("." is the root), without following a symlink at the
// end. Errors should wrap the syscall.Errno where there is one.
type XattrSource interface {
	Listxattr(name string) ([]string, error)
	Getxattr(name, attr string) ([]byte, error)
}

// isACL reports whether attr is a POSIX ACL, which the view passes
// through unencrypted (as gocryptfs stores ACLs).
func isACL(attr string) bool {
	return attr == "system.posix_acl_access" || attr == "system.posix_acl_default"
}

// xattrObject resolves a view path to the plaintext object whose
// attributes it shows; virtual files have none (ok false). Without an
// XattrSource the view has no attributes: errors.ErrUnsupported.
func (f *FS) xattrObject(op, name string) (o *obj, ok bool, err error) {
	if f.xattrs == nil {
		return nil, false, &fs.PathError{Op: op, Path: name, Err: errors.ErrUnsupported}
	}
	o, err = f.resolve(op, name)
	if err != nil {
		return nil, false, err
	}
	return o, o.kind == kReal, nil
}

// Listxattr lists the attributes the view shows for a view path: for
// each attribute of the plaintext object, its encrypted name
// (user.gocryptfs.*, FORMAT.md §8), and POSIX ACLs as they are.
func (f *FS) Listxattr(name string) ([]string, error) {
	o, ok, err := f.xattrObject("listxattr", name)
	if err != nil || !ok {
		return nil, err
	}
	plain, err := f.xattrs.Listxattr(o.plain)
	if err != nil {
		return nil, &fs.PathError{Op: "listxattr", Path: name, Err: unwrap(err)}
	}
	out := make([]string, 0, len(plain))
	for _, a := range plain {
		if isACL(a) {
			out = append(out, a)
			continue
		}
		c, err := f.nt.EncryptXattrName(a)
		if err != nil {
			continue // too long to show encrypted
		}
		out = append(out, c)
	}
	return out, nil
}

// Getxattr returns the value the view shows for attribute attr (as
// listed) of a view path: the plaintext value sealed as a blob (block 0,
// no file ID) with the deterministic nonce pathIV(view path + NUL +
// attr, "XATTRIV"), so that the view stays the same from read to read;
// an empty value stays empty. Names that are not the view's give
// ENODATA.
func (f *FS) Getxattr(name, attr string) ([]byte, error) {
	o, ok, err := f.xattrObject("getxattr", name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &fs.PathError{Op: "getxattr", Path: name, Err: store.ErrNoAttr}
	}
	if isACL(attr) {
		v, err := f.xattrs.Getxattr(o.plain, attr)
		if err != nil {
			return nil, &fs.PathError{Op: "getxattr", Path: name, Err: unwrap(err)}
		}
		return v, nil
	}
	if !strings.HasPrefix(attr, names.XattrPrefix) {
		return nil, &fs.PathError{Op: "getxattr", Path: name, Err: store.ErrNoAttr}
	}
	pattr, err := f.nt.DecryptXattrName(attr)
	if err != nil {
		return nil, &fs.PathError{Op: "getxattr", Path: name, Err: store.ErrNoAttr}
	}
	v, err := f.xattrs.Getxattr(o.plain, pattr)
	if err != nil {
		return nil, &fs.PathError{Op: "getxattr", Path: name, Err: unwrap(err)}
	}
	return layout.EncryptXattrValueNonce(f.codec, v, PathIV(o.cpath+"\x00"+attr, "XATTRIV")), nil
}
