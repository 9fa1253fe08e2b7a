package webdavfs

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/webdav"
)

// The properties this package answers or sets beyond x/net/webdav's own.
var (
	propQuotaAvail = xml.Name{Space: "DAV:", Local: "quota-available-bytes"}
	propQuotaUsed  = xml.Name{Space: "DAV:", Local: "quota-used-bytes"}
	// ownCloud's (and rclone's) way to set the mtime: Unix seconds.
	propLastModified = xml.Name{Space: "DAV:", Local: "lastmodified"}
)

// Windows' WebDAV client sets these after every upload (values are HTTP
// dates).
const msNS = "urn:schemas-microsoft-com:"

// DeadProps gives a directory's quota properties (RFC 4331) when the
// request names them; a vault keeps no other properties.
func (f *davFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	if f.st == nil || !f.st.wantQuota || f.info == nil || !f.info.IsDir() {
		return nil, nil
	}
	props := map[xml.Name]webdav.Property{}
	for n, v := range f.d.quota() {
		props[n] = webdav.Property{XMLName: n, InnerXML: []byte(v)}
	}
	return props, nil
}

// quota gives the quota properties from the statfs of the vault's file
// system; none where it cannot tell.
func (d *davFS) quota() map[xml.Name]string {
	var sf statfser
	if d.v != nil {
		sf = d.v
	} else if s, ok := d.src.(statfser); ok {
		sf = s
	}
	if sf == nil {
		return nil
	}
	st, err := sf.Statfs()
	if err != nil {
		return nil
	}
	bs := uint64(st.BlockSize)
	return map[xml.Name]string{
		propQuotaAvail: strconv.FormatUint(st.BlocksAvail*bs, 10),
		propQuotaUsed:  strconv.FormatUint((st.Blocks-st.BlocksFree)*bs, 10),
	}
}

// Patch sets the times clients send as properties; it refuses every other
// property, and then sets nothing (a PROPPATCH is all or nothing).
func (f *davFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	var atime, mtime time.Time
	ok := webdav.Propstat{Status: http.StatusOK}
	bad := webdav.Propstat{Status: http.StatusForbidden}
	for _, pp := range patches {
		for _, p := range pp.Props {
			name := webdav.Property{XMLName: p.XMLName}
			t, kind := timeProp(p)
			switch {
			case kind == propIgnored:
				ok.Props = append(ok.Props, name)
			case kind == propInvalid || pp.Remove || f.d.ro:
				bad.Props = append(bad.Props, name)
			case kind == propMtime:
				mtime = t
				ok.Props = append(ok.Props, name)
			case kind == propAtime:
				atime = t
				ok.Props = append(ok.Props, name)
			}
		}
	}
	if len(bad.Props) > 0 {
		// Section 9.2: the others fail with 424 (Failed Dependency).
		ok.Status = webdav.StatusFailedDependency
		if len(ok.Props) == 0 {
			return []webdav.Propstat{bad}, nil
		}
		return []webdav.Propstat{bad, ok}, nil
	}
	if !atime.IsZero() || !mtime.IsZero() {
		if err := f.st.note(f.d.setTimes(f.p, atime, mtime)); err != nil {
			return nil, err
		}
	}
	return []webdav.Propstat{ok}, nil
}

type propKind int

const (
	propInvalid propKind = iota // not settable, or a bad value
	propMtime
	propAtime
	propIgnored // accepted and not kept
)

// timeProp classifies a property of a PROPPATCH and parses its time.
func timeProp(p webdav.Property) (time.Time, propKind) {
	v := strings.TrimSpace(string(p.InnerXML))
	switch p.XMLName {
	case propLastModified:
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, propInvalid
		}
		return time.Unix(sec, 0), propMtime
	case xml.Name{Space: msNS, Local: "Win32LastModifiedTime"}:
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, propInvalid
		}
		return t, propMtime
	case xml.Name{Space: msNS, Local: "Win32LastAccessTime"}:
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, propInvalid
		}
		return t, propAtime
	case xml.Name{Space: msNS, Local: "Win32CreationTime"},
		xml.Name{Space: msNS, Local: "Win32FileAttributes"}:
		return time.Time{}, propIgnored
	}
	return time.Time{}, propInvalid
}
