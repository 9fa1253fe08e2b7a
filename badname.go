package sealfs

import (
	"path"
	"strings"

	"github.com/sealfs/sealfs/internal/layout"
)

// BadNameSuffix ends the names under which Options.BadNames shows
// undecryptable entries (gocryptfs' " GOCRYPTFS_BAD_NAME").
const BadNameSuffix = " GOCRYPTFS_BAD_NAME"

// badNameMatch reports whether stored, an undecryptable ciphertext name,
// is to be shown (Options.BadNames).
func (f *FS) badNameMatch(stored string) bool {
	for _, p := range f.opts.BadNames {
		if ok, _ := path.Match(p, stored); ok {
			return true
		}
	}
	return false
}

// badNameShown is the name an undecryptable entry stored in d is listed
// under: the plaintext of the longest prefix of stored that decrypts,
// followed by the rest of stored, or stored itself; then BadNameSuffix.
func (f *FS) badNameShown(d dirLoc, stored string) string {
	if !f.plainNames {
		for n := len(stored) - 1; n > 0; n-- {
			if plain, err := f.nt.DecryptName(stored[:n], d.iv); err == nil {
				return plain + stored[n:] + BadNameSuffix
			}
		}
	}
	return stored + BadNameSuffix
}

// locateBadName finds the entry listed as shown (a name ending in
// BadNameSuffix) in directory d. A real entry of that name comes first;
// otherwise the one undecryptable entry whose shown name it is. ok is
// false when shown does not name a bad entry: it is then an ordinary new
// name.
func (f *FS) locateBadName(d dirLoc, p, shown string) (entryLoc, bool) {
	name := strings.TrimSuffix(shown, BadNameSuffix)
	exists := func(stored string) bool {
		_, err := f.store.Lstat(layout.Join(d.cpath, stored))
		return err == nil
	}
	if stored, full, long, err := f.encryptName(d, shown); err == nil && exists(stored) {
		return entryLoc{dir: d, plain: p, stored: stored, full: full, long: long, cpath: layout.Join(d.cpath, stored)}, true
	}
	var found []string
	for i := len(name); i >= 0; i-- {
		stored := name[i:]
		if i > 0 {
			if f.plainNames {
				continue
			}
			enc, err := f.nt.EncryptName(name[:i], d.iv)
			if err != nil {
				continue
			}
			stored = enc + name[i:]
		}
		if stored == "" || !f.badNameMatch(stored) || !exists(stored) {
			continue
		}
		if _, err := f.decryptEntry(&entryLoc{dir: d, stored: stored, full: stored}); err == nil {
			continue // a good name, listed as itself
		}
		if f.badNameShown(d, stored) != shown {
			continue
		}
		if len(found) == 0 || found[len(found)-1] != stored {
			found = append(found, stored)
		}
	}
	if len(found) != 1 {
		return entryLoc{}, false
	}
	return entryLoc{dir: d, plain: p, stored: found[0], full: found[0], cpath: layout.Join(d.cpath, found[0])}, true
}

// isBadNameCandidate: only names with the suffix can be bad entries, and
// only when BadNames is set.
func (f *FS) isBadNameCandidate(base string) bool {
	return len(f.opts.BadNames) > 0 && strings.HasSuffix(base, BadNameSuffix)
}
