package webdavfs

import (
	"bytes"
	"context"
	"encoding/xml"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// PROPFIND is answered here for the requests clients send all the time (an
// empty body or allprop, or a list of properties) and by x/net/webdav for
// the rest (propname, anything this parser does not take). x/net/webdav
// opens every entry twice, asks for its properties through interfaces and
// encodes the answer with reflection: two thirds of the time a Depth 1
// listing of a vault took, and more garbage than the listing itself. This
// writes the same multistatus straight from the listing.

// propfindBody is a PROPFIND request body (RFC 4918 section 14.20).
type propfindBody struct {
	XMLName  xml.Name  `xml:"DAV: propfind"`
	Allprop  *struct{} `xml:"DAV: allprop"`
	Propname *struct{} `xml:"DAV: propname"`
	Prop     propNames `xml:"DAV: prop"`
	Include  propNames `xml:"DAV: include"`
}

// propNames are the names of the child elements of a prop or include.
type propNames []xml.Name

func (pn *propNames) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			*pn = append(*pn, t.Name)
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
}

// The live properties x/net/webdav answers, in the order allprop gives.
var (
	pnResourceType  = xml.Name{Space: "DAV:", Local: "resourcetype"}
	pnDisplayName   = xml.Name{Space: "DAV:", Local: "displayname"}
	pnContentLength = xml.Name{Space: "DAV:", Local: "getcontentlength"}
	pnLastModified  = xml.Name{Space: "DAV:", Local: "getlastmodified"}
	pnContentType   = xml.Name{Space: "DAV:", Local: "getcontenttype"}
	pnETag          = xml.Name{Space: "DAV:", Local: "getetag"}
	pnSupportedLock = xml.Name{Space: "DAV:", Local: "supportedlock"}
	allprops        = []xml.Name{pnResourceType, pnDisplayName, pnContentLength, pnLastModified, pnContentType, pnETag, pnSupportedLock}
)

const supportedLock = `<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`

// parsePropfind reads a PROPFIND body: the properties asked for (nil with
// all for allprop), or ok false for what x/net/webdav is left to answer.
func parsePropfind(body []byte) (names []xml.Name, all, ok bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true, true
	}
	var pf propfindBody
	if err := xml.Unmarshal(body, &pf); err != nil || pf.Propname != nil {
		return nil, false, false
	}
	switch {
	case pf.Allprop != nil && len(pf.Prop) == 0:
		return pf.Include, true, true
	case pf.Allprop == nil && len(pf.Prop) > 0 && len(pf.Include) == 0:
		return pf.Prop, false, true
	}
	return nil, false, false
}

// propfind answers a PROPFIND of p (depth 0 or 1) with the names asked
// for, or all of them. It returns false, having written nothing, when
// x/net/webdav should answer (an error it has its own statuses for).
func (h *Handler) propfind(w http.ResponseWriter, st *reqState, reqPath, p string, depth int, names []xml.Name, all bool) bool {
	fi, err := h.d.stat(withState(context.Background(), st), p)
	if err != nil {
		return false
	}
	var children []fs.FileInfo
	if fi.IsDir() && depth == 1 {
		f := &davFile{d: h.d, p: p, info: fi, st: st}
		children, err = f.Readdir(0)
		f.Close()
		if err != nil {
			return false
		}
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var b bytes.Buffer
	b.Grow(min(80<<10, 1024+640*len(children)))
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:">`)
	href := path.Join(h.prefix, "/", strings.TrimSuffix(reqPath, "/"))
	h.propResponse(&b, st, href, p == ".", fi, names, all)
	started := false
	for _, c := range children {
		h.propResponse(&b, st, path.Join(href, c.Name()), false, c, names, all)
		if b.Len() > 256<<10 {
			// A long listing streams (chunked); a short one goes out
			// in one write with its length.
			if !started {
				w.WriteHeader(http.StatusMultiStatus)
				started = true
			}
			w.Write(b.Bytes())
			b.Reset()
		}
	}
	b.WriteString(`</D:multistatus>`)
	if !started {
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(http.StatusMultiStatus)
	}
	w.Write(b.Bytes())
	return true
}

// propResponse writes the response element of one resource.
func (h *Handler) propResponse(b *bytes.Buffer, st *reqState, href string, root bool, fi fs.FileInfo, names []xml.Name, all bool) {
	dir := fi.IsDir()
	if dir && href != "/" {
		href += "/"
	}
	b.WriteString(`<D:response><D:href>`)
	xml.EscapeText(b, []byte((&url.URL{Path: href}).EscapedPath()))
	b.WriteString(`</D:href><D:propstat><D:prop>`)
	var quota map[xml.Name]string
	if dir && st.wantQuota {
		quota = h.d.quota()
	}
	var missing []xml.Name
	prop := func(n xml.Name) {
		v, ok := h.liveProp(n, root, fi)
		if !ok {
			v, ok = quota[n]
		}
		if !ok {
			missing = append(missing, n)
			return
		}
		b.WriteString(`<D:`)
		b.WriteString(n.Local)
		b.WriteByte('>')
		b.WriteString(v)
		b.WriteString(`</D:`)
		b.WriteString(n.Local)
		b.WriteByte('>')
	}
	if all {
		for _, n := range allprops {
			if v, ok := h.liveProp(n, root, fi); ok {
				b.WriteString(`<D:` + n.Local + `>` + v + `</D:` + n.Local + `>`)
			}
		}
		for _, n := range names {
			if !isAllprop(n) {
				prop(n)
			}
		}
	} else {
		for _, n := range names {
			prop(n)
		}
	}
	b.WriteString(`</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`)
	if len(missing) > 0 {
		b.WriteString(`<D:propstat><D:prop>`)
		for _, n := range missing {
			if n.Space == "DAV:" {
				b.WriteString(`<D:` + n.Local + `/>`)
				continue
			}
			// Names are XML names (the parser took them); the
			// namespace is an attribute value.
			b.WriteString(`<X:` + n.Local + ` xmlns:X="`)
			xml.EscapeText(b, []byte(n.Space))
			b.WriteString(`"/>`)
		}
		b.WriteString(`</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>`)
	}
	b.WriteString(`</D:response>`)
}

func isAllprop(n xml.Name) bool {
	for _, a := range allprops {
		if a == n {
			return true
		}
	}
	return false
}

// liveProp is the value (inner XML) of a live property of fi, as
// x/net/webdav gives it; ok is false for properties fi does not have.
func (h *Handler) liveProp(n xml.Name, root bool, fi fs.FileInfo) (string, bool) {
	dir := fi.IsDir()
	switch n {
	case pnResourceType:
		if dir {
			return `<D:collection/>`, true
		}
		return "", true
	case pnDisplayName:
		if root {
			return "", true
		}
		var b strings.Builder
		xml.EscapeText(&b, []byte(fi.Name()))
		return b.String(), true
	case pnLastModified:
		return fi.ModTime().UTC().Format(http.TimeFormat), true
	case pnSupportedLock:
		return supportedLock, true
	}
	if dir {
		return "", false
	}
	switch n {
	case pnContentLength:
		return strconv.FormatInt(fi.Size(), 10), true
	case pnContentType:
		var b strings.Builder
		xml.EscapeText(&b, []byte(contentType(fi.Name())))
		return b.String(), true
	case pnETag:
		var b strings.Builder
		xml.EscapeText(&b, []byte(etagOf(unwrap(fi))))
		return b.String(), true
	}
	return "", false
}

func unwrap(fi fs.FileInfo) fs.FileInfo {
	if w, ok := fi.(*fileInfo); ok {
		return w.FileInfo
	}
	return fi
}
