//go:build !unix

package vault

// syncAll: there is no sync(2) here; the rename that follows is all the
// ordering there is.
func syncAll() {}
