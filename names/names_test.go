package names

import (
	"encoding/hex"
	"errors"
	"strings"
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

func TestXattrNames(t *testing.T) {
	for _, raw := range []bool{true, false} {
		tr := newT(t, &Options{Raw64: raw})
		c, err := tr.EncryptXattrName("user.comment")
		if err != nil || !strings.HasPrefix(c, XattrPrefix) {
			t.Fatalf("EncryptXattrName: %q %v", c, err)
		}
		if strings.HasSuffix(c, "=") == raw {
			t.Errorf("raw64=%v: %q", raw, c)
		}
		if p, err := tr.DecryptXattrName(c); err != nil || p != "user.comment" {
			t.Errorf("DecryptXattrName: %q %v", p, err)
		}
		if _, err := tr.DecryptXattrName("user.other"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("foreign xattr: %v", err)
		}
	}
}

func FuzzDecryptName(f *testing.F) {
	tr := newT(f, &Options{Raw64: true})
	iv := mustHex(f, rootIVHex)
	f.Add("-iOJB_2WnuTUQDTsEpdPlw")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := tr.DecryptName(c, iv)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error not ErrInvalidName: %v", err)
			}
			return
		}
		// Exactly one encoding per name: it must re-encrypt to the input.
		if again, err := tr.EncryptName(p, iv); err != nil || again != c {
			t.Fatalf("%q decrypts to %q which encrypts to %q (%v)", c, p, again, err)
		}
	})
}

func FuzzEncryptRoundTrip(f *testing.F) {
	tr := newT(f, &Options{Raw64: true, LongNameMax: 62})
	f.Add("file.txt", []byte("0123456789abcdef"))
	f.Fuzz(func(t *testing.T, p string, iv []byte) {
		if len(iv) != DirIVSize {
			return
		}
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
