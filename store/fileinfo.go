package store

import (
	"io/fs"
	"time"
)

// NewFileInfo returns an fs.FileInfo named name that describes st; its
// Sys is a *Stat. Stores that produce a Stat of their own (dirstore's
// statx, s3store's objects) answer Lstat and File.Stat with it.
func NewFileInfo(name string, st Stat) fs.FileInfo {
	return &statFileInfo{name: name, st: st}
}

type statFileInfo struct {
	name string
	st   Stat
}

func (fi *statFileInfo) Name() string       { return fi.name }
func (fi *statFileInfo) Size() int64        { return fi.st.Size }
func (fi *statFileInfo) Mode() fs.FileMode  { return ModeFromUnix(fi.st.Mode) }
func (fi *statFileInfo) ModTime() time.Time { return fi.st.Mtime }
func (fi *statFileInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *statFileInfo) Sys() any           { return &fi.st }
