package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/testvault"
)

func goldenConfigs(t *testing.T) map[string]string {
	dir := testvault.Dir(t)
	m := map[string]string{}
	for _, v := range testvault.Forward {
		m[v] = filepath.Join(dir, v, "cipher", DefaultFile)
	}
	for _, v := range testvault.Reverse {
		m[v] = filepath.Join(dir, v, "plain", ReverseFile)
	}
	for _, v := range []string{"raw64-false", "longnames-false", "hkdf-false"} {
		m[v] = filepath.Join(dir, "ignored-init-flags", v, "cipher", DefaultFile)
	}
	return m
}

// Every golden config parses, re-marshals byte for byte, and unlocks with
// "test" to the recorded master key.
func TestGoldenConfigs(t *testing.T) {
	for name, path := range goldenConfigs(t) {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Marshal()
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("re-marshal differs:\n%s\nwant\n%s", out, data)
			}
			k, err := c.Unlock([]byte("test"))
			if err != nil {
				t.Fatal(err)
			}
			mkFile := filepath.Join(filepath.Dir(filepath.Dir(path)), "masterkey.txt")
			if strings.HasPrefix(name, "reverse") {
				mkFile = filepath.Join(filepath.Dir(filepath.Dir(path)), "masterkey.txt")
			}
			want, err := os.ReadFile(mkFile)
			if err != nil {
				t.Fatal(err)
			}
			if k.Hex() != strings.TrimSpace(string(want)) {
				t.Fatalf("master key %s, want %s", k.Hex(), want)
			}
			if _, err := c.Unlock([]byte("wrong")); !errors.Is(err, ErrWrongPassword) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, _, err := c.Ciphers(k, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The intermediate values of the worked example in the golden README.
func TestWorkedExample(t *testing.T) {
	c, err := Load(filepath.Join(testvault.Dir(t), "default", "cipher", DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := c.kek([]byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(kek) != "178edd9e688cd28c224da357bd52aa954e88c07e1fc5b9ffdab2ffd3fd9fa71a" {
		t.Errorf("scrypt output %x", kek)
	}
	if w := hkdfKey(kek, infoGCM, 32); hex.EncodeToString(w) != "7e03ec4031ec8d37956c504482f9bd6fc176c3e0c26e49d3811736ca3df19f3b" {
		t.Errorf("wrap key %x", w)
	}
	mk, _ := hex.DecodeString("0e3b389cb73ec2e7802459ab3725b7c1a25e478e2445f07b74b4eb3af34ca24a")
	if n := hkdfKey(mk, infoEME, 32); hex.EncodeToString(n) != "915a7056189b6a44da0a168650527204c69f3943c4d995c6f3e9993a0cc66294" {
		t.Errorf("name key %x", n)
	}
	if ck := hkdfKey(mk, infoGCM, 32); hex.EncodeToString(ck) != "0c31c9a9929e80ffd76b35d1af9aa64e7c1992b377476726a50905b78b7c135c" {
		t.Errorf("content key %x", ck)
	}
}

func TestNewRoundTripAndFlagOrder(t *testing.T) {
	cases := []struct {
		o     Options
		flags string
	}{
		{Options{}, "HKDF GCMIV128 DirIV EMENames LongNames Raw64"},
		{Options{Suite: content.AESSIV}, "HKDF GCMIV128 DirIV EMENames LongNames Raw64 AESSIV"},
		{Options{Suite: content.XChaCha20Poly1305}, "HKDF XChaCha20Poly1305 DirIV EMENames LongNames Raw64"},
		{Options{PlaintextNames: true}, "HKDF GCMIV128 PlaintextNames"},
		{Options{DeterministicNames: true}, "HKDF GCMIV128 EMENames LongNames Raw64"},
		{Options{LongNameMax: 62}, "HKDF GCMIV128 DirIV LongNameMax EMENames LongNames Raw64"},
		{Options{LongNameMax: 255}, "HKDF GCMIV128 DirIV EMENames LongNames Raw64"},
	}
	for _, tc := range cases {
		tc.o.ScryptLogN = 10
		k, _ := GenerateKey()
		c, err := New(k, []byte("pw"), &tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.FeatureFlags, " "); got != tc.flags {
			t.Errorf("%+v: flags %q, want %q", tc.o, got, tc.flags)
		}
		data, _ := c.Marshal()
		c2, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := c2.Unlock([]byte("pw"))
		if err != nil || k2.Hex() != k.Hex() {
			t.Fatalf("unlock: %v", err)
		}
		if c2.Suite() != tc.o.Suite {
			t.Errorf("suite %v", c2.Suite())
		}
		old := bytes.Clone(c2.ScryptObject.Salt)
		if err := c2.SetPassword(k, []byte("new"), 0); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(old, c2.ScryptObject.Salt) || c2.ScryptObject.N != 1024 {
			t.Error("SetPassword kept the salt or changed N")
		}
		if k3, err := c2.Unlock([]byte("new")); err != nil || k3.Hex() != k.Hex() {
			t.Fatalf("unlock with new password: %v", err)
		}
	}
}

func TestValidation(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(testvault.Dir(t), "default", "cipher", DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	flags := `"HKDF",
		"GCMIV128",
		"DirIV",
		"EMENames",
		"LongNames",
		"Raw64"`
	sub := func(old, new string) []byte {
		s := string(base)
		if !strings.Contains(s, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	setFlags := func(f string) []byte { return sub(flags, f) }
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"empty":                     {nil, ErrInvalidConfig},
		"truncated":                 {base[:len(base)/2], ErrInvalidConfig},
		"version 3":                 {sub(`"Version": 2`, `"Version": 3`), ErrUnsupportedVersion},
		"N 512":                     {sub(`"N": 1024`, `"N": 512`), ErrWeakParameters},
		"N 2^40":                    {sub(`"N": 1024`, `"N": 1099511627776`), ErrInvalidConfig},
		"R 4":                       {sub(`"R": 8`, `"R": 4`), ErrWeakParameters},
		"N*R too large":             {[]byte(strings.Replace(string(sub(`"N": 1024`, `"N": 268435456`)), `"R": 8`, `"R": 16`, 1)), ErrInvalidConfig},
		"unknown flag":              {setFlags(`"HKDF", "GCMIV128", "Bogus"`), ErrUnknownFeature},
		"xchacha+siv":               {setFlags(`"HKDF", "XChaCha20Poly1305", "AESSIV"`), ErrInvalidConfig},
		"siv no gcm128":             {setFlags(`"HKDF", "AESSIV"`), ErrInvalidConfig},
		"xchacha+gcm128":            {setFlags(`"HKDF", "XChaCha20Poly1305", "GCMIV128"`), ErrInvalidConfig},
		"xchacha no hkdf":           {setFlags(`"XChaCha20Poly1305"`), ErrInvalidConfig},
		"no gcm128":                 {setFlags(`"HKDF", "DirIV"`), ErrUnsupportedVersion},
		"plain+diriv":               {setFlags(`"HKDF", "GCMIV128", "PlaintextNames", "DirIV"`), ErrInvalidConfig},
		"longnamemax without field": {setFlags(`"HKDF", "GCMIV128", "LongNameMax"`), ErrInvalidConfig},
		"short key":                 {sub(`"EncryptedKey": "`, `"EncryptedKey": "AAAA`), ErrInvalidConfig},
	} {
		_, err := Parse(tc.data)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestWriteFile(t *testing.T) {
	k, _ := GenerateKey()
	c, err := New(k, []byte("pw"), &Options{ScryptLogN: 10})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), DefaultFile)
	if err := c.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(p + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("temp file left behind")
	}
	// A leftover .tmp makes writing fail and keeps the old file.
	os.WriteFile(p+".tmp", nil, 0o600)
	before, _ := os.ReadFile(p)
	c.SetPassword(k, []byte("other"), 0)
	if err := c.WriteFile(p); err == nil {
		t.Fatal("write over a leftover .tmp succeeded")
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("config changed by a failed write")
	}
	if err := BackupFile(p); err != nil {
		t.Fatal(err)
	}
	if err := BackupFile(p); err == nil {
		t.Fatal("second backup overwrote the first")
	}
	// Tampering with the wrapped key reads as a wrong password.
	c2, _ := Load(p)
	c2.EncryptedKey[20] ^= 1
	if _, err := c2.Unlock([]byte("pw")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("tampered key: %v", err)
	}
}

func TestKey(t *testing.T) {
	const display = "0e3b389c-b73ec2e7-802459ab-3725b7c1-\n    a25e478e-2445f07b-74b4eb3a-f34ca24a"
	k, err := ParseKey(display)
	if err != nil || k.Hex() != "0e3b389cb73ec2e7802459ab3725b7c1a25e478e2445f07b74b4eb3af34ca24a" {
		t.Fatalf("ParseKey: %v", err)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s %x %#v", k, k, k, k)} {
		if strings.Contains(s, "0e3b") {
			t.Fatalf("key leaked in %q", s)
		}
	}
	for _, bad := range []string{"", "zz", strings.Repeat("a", 62), strings.Repeat("a", 66)} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q): %v", bad, err)
		}
	}
	k.Destroy()
	if k.Hex() != strings.Repeat("0", 64) {
		t.Fatal("Destroy did not zero the key")
	}
}

func TestFormatOnly(t *testing.T) {
	c, err := FormatOnly(&Options{Suite: content.AESSIV, NoRaw64: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Suite() != content.AESSIV || c.Raw64() || !c.DirIV() {
		t.Fatalf("flags %v", c.FeatureFlags)
	}
	if _, err := FormatOnly(&Options{Suite: content.XChaCha20Poly1305, NoHKDF: true}); err == nil {
		t.Fatal("XChaCha without HKDF accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range []string{"default", "plaintextnames", "longnamemax62"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata", "gocryptfs-2.3", v, "cipher", DefaultFile)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		if _, err := c.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}
