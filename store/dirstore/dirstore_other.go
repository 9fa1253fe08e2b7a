//go:build !linux

package dirstore

// Store is a store.Store in a local directory. On this system it works
// through os.Root (see rootStore): every operation stays inside the
// directory, and symlinks inside it are not followed.
type Store struct{ *rootStore }

// New returns a Store for the directory dir. The directory stays open
// until the Store is closed. The options are Linux-only and ignored here.
func New(dir string, opts *Options) (*Store, error) {
	r, err := newRootStore(dir)
	if err != nil {
		return nil, err
	}
	return &Store{r}, nil
}
