module github.com/sealfs/sealfs

go 1.26.0

require (
	github.com/hanwen/go-fuse/v2 v2.12.1
	github.com/jacobsa/crypto v0.0.0-20190317225127-9f44e2d11115
	github.com/rfjakob/eme v1.2.0
	github.com/rogpeppe/go-internal v1.16.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
	golang.org/x/tools v0.26.0 // indirect
)
