package names

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unicode/utf8"
)

// Values from the worked example of the golden data (default vault).
const (
	nameKeyHex = "915a7056189b6a44da0a168650527204c69f3943c4d995c6f3e9993a0cc66294"
	rootIVHex  = "fe6ea5d12b15322147285aa9ff39fa69"
)

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newT(t testing.TB, o *Options) *Transform {
	tr, err := New(mustHex(t, nameKeyHex), o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestWorkedExample(t *testing.T) {
	tr := newT(t, &Options{Raw64: true})
	iv := mustHex(t, rootIVHex)
	for plain, want := range map[string]string{
		"text.txt":         "-iOJB_2WnuTUQDTsEpdPlw",
		"sixteen-bytes.xy": "vCGxbNT6d45-pEx4qIxKCQm5FNCat205xmV_2LV4HEE",
	} {
		got, err := tr.EncryptName(plain, iv)
		if err != nil || got != want {
			t.Errorf("EncryptName(%q) = %q, %v; want %q", plain, got, err, want)
		}
		back, err := tr.DecryptName(want, iv)
		if err != nil || back != plain {
			t.Errorf("DecryptName(%q) = %q, %v", want, back, err)
		}
	}
	n176 := "n176-" + strings.Repeat("b", 167) + ".txt"
	full, err := tr.EncryptName(n176, iv)
	if err != nil || len(full) != 256 {
		t.Fatalf("n176: %d chars, %v", len(full), err)
	}
	stored, long := tr.Shorten(full)
	if !long || stored != "gocryptfs.longname.e1rHAknrxnDtfIAqDK_jRmFriMqHqFR2V-m2283c6CU" {
		t.Fatalf("n176 stored as %q", stored)
	}
	if !IsLongName(stored) || IsLongNameFile(stored) || !IsLongNameFile(stored+LongNameSuffix) {
		t.Fatal("long-name predicates")
	}
}

func TestLengthsAndThresholds(t *testing.T) {
	iv := mustHex(t, rootIVHex)
	for _, o := range []Options{{Raw64: true}, {Raw64: false}, {Raw64: true, LongNameMax: 62}} {
		tr := newT(t, &o)
		for _, n := range []int{1, 15, 16, 31, 32, 62, 63, 174, 175, 176, 200, 254, 255} {
			plain := strings.Repeat("a", n)
			c, err := tr.EncryptName(plain, iv)
			if err != nil {
				t.Fatal(err)
			}
			padded := 16 * (n/16 + 1)
			wantLen := (padded*8 + 5) / 6
			if !o.Raw64 {
				wantLen = (padded + 2) / 3 * 4
			}
			if len(c) != wantLen {
				t.Errorf("%+v: %d-byte name -> %d chars, want %d", o, n, len(c), wantLen)
			}
			_, long := tr.Shorten(c)
			if long != (len(c) > tr.LongNameMax()) {
				t.Errorf("%+v: %d-byte name long=%v", o, n, long)
			}
			if back, err := tr.DecryptName(c, iv); err != nil || back != plain {
				t.Errorf("%+v: round trip of %d bytes: %v", o, n, err)
			}
		}
	}
	// Default threshold: 175 bytes stays, 176 is hashed.
	tr := newT(t, &Options{Raw64: true})
	c175, _ := tr.EncryptName(strings.Repeat("x", 175), iv)
	c176, _ := tr.EncryptName(strings.Repeat("x", 176), iv)
	if _, l := tr.Shorten(c175); l {
		t.Error("175 bytes hashed")
	}
	if _, l := tr.Shorten(c176); !l {
		t.Error("176 bytes not hashed")
	}
	// 255 bytes of two-byte UTF-8 characters (plus one ASCII byte).
	u := strings.Repeat("é", 127) + "x"
	if len(u) != 255 || !utf8.ValidString(u) {
		t.Fatal("bad test name")
	}
	cu, err := tr.EncryptName(u, iv)
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := tr.DecryptName(cu, iv); back != u {
		t.Error("UTF-8 round trip")
	}
}

func TestBadNames(t *testing.T) {
	tr := newT(t, &Options{Raw64: true})
	iv := mustHex(t, rootIVHex)
	for _, p := range []string{"", ".", "..", "a/b", "nul\x00"} {
		if _, err := tr.EncryptName(p, iv); !errors.Is(err, ErrBadPlainName) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("EncryptName(%q): %v", p, err)
		}
	}
	if _, err := tr.EncryptName(strings.Repeat("a", 256), iv); !errors.Is(err, ErrNameTooLong) || !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("256 bytes: %v", err)
	}
	good, _ := tr.EncryptName("text.txt", iv)
	for _, c := range []string{"", "not base64!", "AAAA", good + "A", good[:len(good)-1] + "x", good[:10] + "\n" + good[10:], "gocryptfs.conf"} {
		if _, err := tr.DecryptName(c, iv); !errors.Is(err, ErrInvalidName) {
			t.Errorf("DecryptName(%q): %v", c, err)
		}
	}
	// Wrong IV: padding check fails (with overwhelming probability).
	other := make([]byte, 16)
	if _, err := tr.DecryptName(good, other); err == nil {
		t.Error("decrypted with the wrong IV")
	}
	if _, err := New(make([]byte, 16), nil); err == nil {
		t.Error("16-byte key accepted")
	}
	if _, err := New(make([]byte, 32), &Options{LongNameMax: 61}); err == nil {
		t.Error("LongNameMax 61 accepted")
	}
}

// rawCipher EME-encrypts an arbitrary (already padded) block sequence and
// encodes it, to build names that pass decoding but fail later checks.
func rawCipher(tr *Transform, iv []byte, padded []byte) string {
	return tr.enc.EncodeToString(tr.eme.Encrypt(iv, padded))
}

func TestDecryptRejects(t *testing.T) {
	iv := mustHex(t, rootIVHex)
	tr := newT(t, &Options{Raw64: true})
	padded := newT(t, &Options{Raw64: false})
	pad := func(s string, n int) []byte { return append([]byte(s), bytes.Repeat([]byte{byte(n)}, n)...) }
	cases := map[string]string{
		"pad byte 0":         rawCipher(tr, iv, append([]byte("fifteen-bytes.x"), 0)),
		"pad byte 17":        rawCipher(tr, iv, append([]byte("0123456789abcdef"), bytes.Repeat([]byte{17}, 16)...)),
		"uneven pad":         rawCipher(tr, iv, []byte("abcdefghijklm\x03\x02\x03")),
		"pad is everything":  rawCipher(tr, iv, bytes.Repeat([]byte{16}, 16)),
		"plain dot":          rawCipher(tr, iv, pad(".", 15)),
		"plain dotdot":       rawCipher(tr, iv, pad("..", 14)),
		"plain slash":        rawCipher(tr, iv, pad("a/b", 13)),
		"plain NUL":          rawCipher(tr, iv, pad("a\x00b", 13)),
		"plain 256 bytes":    rawCipher(tr, iv, pad(strings.Repeat("a", 256), 16)),
		"2048 bytes":         rawCipher(tr, iv, pad(strings.Repeat("a", 2032), 16)),
		"not multiple of 16": tr.enc.EncodeToString(make([]byte, 17)),
		"padded flavour":     mustEncrypt(t, padded, "text.txt", iv),
		"trailing bits":      "-iOJB_2WnuTUQDTsEpdPlx",
		"CR":                 "-iOJB_2WnuTUQDTs\rEpdPlw",
		"LF":                 "-iOJB_2WnuTUQDTs\nEpdPlw",
		"standard alphabet":  "+iOJB/2WnuTUQDTsEpdPlw",
		"not base64":         "not base64!",
		"empty":              "",
		"long name hash":     "gocryptfs.longname.e1rHAknrxnDtfIAqDK_jRmFriMqHqFR2V-m2283c6CU",
		"config":             ConfigFile,
		"truncated":          "-iOJB_2WnuTUQDTsEpdPl",
		"one char more":      "-iOJB_2WnuTUQDTsEpdPlwA",
	}
	for name, c := range cases {
		if p, err := tr.DecryptName(c, iv); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%s: DecryptName(%q) = %q, %v", name, c, p, err)
		}
	}
	// And the padded flavour rejects the unpadded form.
	if _, err := padded.DecryptName("-iOJB_2WnuTUQDTsEpdPlw", iv); !errors.Is(err, ErrInvalidName) {
		t.Errorf("padded transform accepted a Raw64 name: %v", err)
	}
	if p, err := padded.DecryptName("-iOJB_2WnuTUQDTsEpdPlw==", iv); err != nil || p != "text.txt" {
		t.Errorf("padded transform: %q %v", p, err)
	}
	// The error names the culprit.
	_, err := tr.DecryptName("not base64!", iv)
	if err == nil || !strings.Contains(err.Error(), "not base64!") {
		t.Errorf("error lacks context: %v", err)
	}
	// Wrong IV sizes are errors, not panics.
	for _, bad := range [][]byte{nil, make([]byte, 15), make([]byte, 17)} {
		if _, err := tr.DecryptName("-iOJB_2WnuTUQDTsEpdPlw", bad); err == nil {
			t.Errorf("%d-byte IV accepted", len(bad))
		}
		if _, err := tr.EncryptName("x", bad); err == nil {
			t.Errorf("%d-byte IV accepted", len(bad))
		}
	}
}

func mustEncrypt(t *testing.T, tr *Transform, p string, iv []byte) string {
	c, err := tr.EncryptName(p, iv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorIdentities(t *testing.T) {
	if !errors.Is(ErrNameTooLong, syscall.ENAMETOOLONG) || errors.Is(ErrNameTooLong, syscall.EINVAL) {
		t.Error("ErrNameTooLong errno")
	}
	if !errors.Is(ErrBadPlainName, syscall.EINVAL) || errors.Is(ErrBadPlainName, syscall.ENAMETOOLONG) {
		t.Error("ErrBadPlainName errno")
	}
	if errors.Is(ErrInvalidName, ErrBadPlainName) || errors.Is(ErrBadPlainName, ErrNameTooLong) {
		t.Error("sentinels not distinct")
	}
	for _, tc := range []struct {
		name string
		want error
	}{
		{"", ErrBadPlainName}, {".", ErrBadPlainName}, {"..", ErrBadPlainName}, {"/", ErrBadPlainName},
		{"a\x00", ErrBadPlainName}, {strings.Repeat("x", 256), ErrNameTooLong},
		{"...", nil}, {" ", nil}, {".hidden", nil}, {strings.Repeat("x", 255), nil}, {"\xff\xfe", nil},
	} {
		if err := CheckPlain(tc.name); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckPlain(%q) = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestXattrNames(t *testing.T) {
	for _, raw := range []bool{true, false} {
		tr := newT(t, &Options{Raw64: raw})
		for _, name := range []string{"user.comment", "a", "trusted.x/y", strings.Repeat("u", 175), strings.Repeat("u", 255)} {
			c, err := tr.EncryptXattrName(name)
			if err != nil || !strings.HasPrefix(c, XattrPrefix) {
				t.Fatalf("EncryptXattrName: %q %v", c, err)
			}
			if strings.HasSuffix(c, "=") == raw {
				t.Errorf("raw64=%v: %q", raw, c)
			}
			if p, err := tr.DecryptXattrName(c); err != nil || p != name {
				t.Errorf("DecryptXattrName: %q %v", p, err)
			}
		}
		// 175 bytes is the longest name whose stored form fits 255 bytes.
		if c, _ := tr.EncryptXattrName(strings.Repeat("u", 175)); raw && len(c) != 250 {
			t.Errorf("175-byte xattr name stored in %d bytes", len(c))
		}
		for _, bad := range []string{"", "a\x00b"} {
			if _, err := tr.EncryptXattrName(bad); !errors.Is(err, ErrBadPlainName) {
				t.Errorf("EncryptXattrName(%q): %v", bad, err)
			}
		}
		if _, err := tr.EncryptXattrName(strings.Repeat("u", 256)); !errors.Is(err, ErrXattrNameTooLong) || !errors.Is(err, syscall.ERANGE) || errors.Is(err, ErrNameTooLong) {
			t.Errorf("256-byte xattr name: %v", err)
		}
		for _, bad := range []string{"user.other", "user.gocryptfs.", "user.gocryptfs.-iOJB_2WnuTUQDTsEpdPlx", "security.capability"} {
			if _, err := tr.DecryptXattrName(bad); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DecryptXattrName(%q): %v", bad, err)
			}
		}
		// The xattr IV is fixed: not a directory IV.
		c, _ := tr.EncryptXattrName("user.comment")
		n, _ := tr.EncryptName("user.comment", []byte("xattr_name_iv_xx"))
		if c != XattrPrefix+n {
			t.Errorf("xattr name %q is not the name encrypted with the fixed IV (%q)", c, n)
		}
	}
}

// Transforms are used from many goroutines at once (run with -race).
func TestConcurrent(t *testing.T) {
	tr := newT(t, &Options{Raw64: true})
	iv := mustHex(t, rootIVHex)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := strings.Repeat("n", 1+(g*31+i)%255)
				c, err := tr.EncryptName(p, iv)
				if err != nil {
					t.Error(err)
					return
				}
				tr.Shorten(c)
				if back, err := tr.DecryptName(c, iv); err != nil || back != p {
					t.Errorf("round trip: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzDecryptName(f *testing.F) {
	trs := map[bool]*Transform{true: newT(f, &Options{Raw64: true}), false: newT(f, &Options{Raw64: false})}
	iv := mustHex(f, rootIVHex)
	f.Add("-iOJB_2WnuTUQDTsEpdPlw", true)
	f.Add("-iOJB_2WnuTUQDTsEpdPlw==", false)
	f.Add("vCGxbNT6d45-pEx4qIxKCQm5FNCat205xmV_2LV4HEE", true)
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", true)
	f.Add("-iOJB_2WnuTUQDTs\nEpdPlw", true)
	f.Fuzz(func(t *testing.T, c string, raw bool) {
		tr := trs[raw]
		p, err := tr.DecryptName(c, iv)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error not ErrInvalidName: %v", err)
			}
			return
		}
		if CheckPlain(p) != nil {
			t.Fatalf("%q decrypted to invalid name %q", c, p)
		}
		// Exactly one encoding per name: it must re-encrypt to the input.
		if again, err := tr.EncryptName(p, iv); err != nil || again != c {
			t.Fatalf("%q decrypts to %q which encrypts to %q (%v)", c, p, again, err)
		}
	})
}

func FuzzDecryptXattrName(f *testing.F) {
	tr := newT(f, &Options{Raw64: true})
	good, _ := tr.EncryptXattrName("user.comment")
	f.Add(good)
	f.Add("user.gocryptfs.AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := tr.DecryptXattrName(c)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error not ErrInvalidName: %v", err)
			}
			return
		}
		if again, err := tr.EncryptXattrName(p); err != nil || again != c {
			t.Fatalf("%q decrypts to %q which encrypts to %q (%v)", c, p, again, err)
		}
	})
}

func FuzzEncryptRoundTrip(f *testing.F) {
	tr := newT(f, &Options{Raw64: true, LongNameMax: 62})
	f.Add("file.txt", []byte("0123456789abcdef"))
	f.Add("..", []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, p string, ivSeed []byte) {
		iv := make([]byte, DirIVSize)
		copy(iv, ivSeed)
		c, err := tr.EncryptName(p, iv)
		if CheckPlain(p) != nil {
			if err == nil {
				t.Fatalf("invalid name %q encrypted", p)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		stored, long := tr.Shorten(c)
		if long != (len(c) > 62) || long && (len(stored) != 62 || !IsLongName(stored)) || !long && stored != c {
			t.Fatalf("Shorten(%q) = %q, %v", c, stored, long)
		}
		if back, err := tr.DecryptName(c, iv); err != nil || back != p {
			t.Fatalf("round trip of %q: %q %v", p, back, err)
		}
	})
}

func BenchmarkEncryptName(b *testing.B) {
	tr := newT(b, &Options{Raw64: true})
	iv := mustHex(b, rootIVHex)
	for b.Loop() {
		tr.EncryptName("some-file-name.txt", iv)
	}
}

func BenchmarkDecryptName(b *testing.B) {
	tr := newT(b, &Options{Raw64: true})
	iv := mustHex(b, rootIVHex)
	c, _ := tr.EncryptName("some-file-name.txt", iv)
	for b.Loop() {
		tr.DecryptName(c, iv)
	}
}

func BenchmarkHashLongName(b *testing.B) {
	tr := newT(b, &Options{Raw64: true})
	c, _ := tr.EncryptName(strings.Repeat("n", 200), mustHex(b, rootIVHex))
	for b.Loop() {
		tr.Shorten(c)
	}
}

func BenchmarkEncryptNameParallel(b *testing.B) {
	tr := newT(b, &Options{Raw64: true})
	iv := mustHex(b, rootIVHex)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.EncryptName("some-file-name.txt", iv)
		}
	})
}
