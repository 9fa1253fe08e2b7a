package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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

var sentinels = []error{ErrWrongPassword, ErrUnknownFeature, ErrWeakParameters, ErrUnsupportedVersion, ErrInvalidConfig, ErrBadKey}

// isOnly reports whether err matches want and no other sentinel.
func isOnly(err, want error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) != (s == want) {
			return false
		}
	}
	return true
}

// Every option combination -init allows: flags in the order of §3.3,
// Marshal -> Parse -> Unlock round trip, and a working key schedule.
func TestAllCombinations(t *testing.T) {
	for _, suite := range []content.Suite{content.AESGCM, content.AESSIV, content.XChaCha20Poly1305} {
		for _, mode := range []string{"random", "deterministic", "plain"} {
			for _, lnm := range []int{0, 62, 200, 255} {
				o := Options{Suite: suite, DeterministicNames: mode == "deterministic", PlaintextNames: mode == "plain", LongNameMax: lnm, ScryptLogN: 10}
				// Expected flags, spelled out from §3.3.
				want := []string{"HKDF"}
				if suite == content.XChaCha20Poly1305 {
					want = append(want, "XChaCha20Poly1305")
				} else {
					want = append(want, "GCMIV128")
				}
				if mode == "plain" {
					want = append(want, "PlaintextNames")
				} else {
					if mode == "random" {
						want = append(want, "DirIV")
					}
					if lnm != 0 && lnm != 255 {
						want = append(want, "LongNameMax")
					}
					want = append(want, "EMENames", "LongNames", "Raw64")
				}
				if suite == content.AESSIV {
					want = append(want, "AESSIV")
				}
				k, _ := GenerateKey()
				c, err := New(k, []byte("pw"), &o)
				if err != nil {
					t.Fatalf("%+v: %v", o, err)
				}
				if got := strings.Join(c.FeatureFlags, " "); got != strings.Join(want, " ") {
					t.Errorf("%+v: flags %q, want %q", o, got, strings.Join(want, " "))
				}
				data, err := c.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(data, []byte("{\n\t\"Creator\": \"sealfs\",\n\t\"EncryptedKey\": \"")) || !bytes.HasSuffix(data, []byte("\n}\n")) {
					t.Errorf("layout:\n%s", data)
				}
				c2, err := Parse(data)
				if err != nil {
					t.Fatal(err)
				}
				if again, _ := c2.Marshal(); !bytes.Equal(again, data) {
					t.Error("re-marshal differs")
				}
				k2, err := c2.Unlock([]byte("pw"))
				if err != nil || k2.Hex() != k.Hex() {
					t.Fatalf("%+v: unlock: %v", o, err)
				}
				wantMax := 255
				if mode != "plain" && lnm != 0 {
					wantMax = lnm
				}
				if c2.Suite() != suite || c2.PlaintextNames() != (mode == "plain") || c2.DirIV() != (mode == "random") ||
					c2.Raw64() != (mode != "plain") || c2.LongNameMaxEffective() != wantMax {
					t.Errorf("%+v: accessors disagree with %v", o, c2.FeatureFlags)
				}
				codec, nt, err := c2.Ciphers(k2, nil)
				if err != nil {
					t.Fatal(err)
				}
				if codec.Suite() != suite || nt.LongNameMax() != wantMax {
					t.Errorf("%+v: ciphers %v %d", o, codec.Suite(), nt.LongNameMax())
				}
				if strings.HasSuffix(nt.Encoding().EncodeToString([]byte{1}), "=") != (mode == "plain") {
					t.Errorf("%+v: base64 flavour", o)
				}
			}
		}
	}
	for _, o := range []Options{{LongNameMax: 61}, {LongNameMax: 256}, {LongNameMax: -1}, {Suite: 3}, {Suite: -1}} {
		k, _ := GenerateKey()
		o.ScryptLogN = 10
		if _, err := New(k, []byte("pw"), &o); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): %v", o, err)
		}
		if _, err := FormatOnly(&o); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("FormatOnly(%+v): %v", o, err)
		}
	}
	if _, err := FormatOnly(&Options{Suite: content.XChaCha20Poly1305, NoHKDF: true}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("FormatOnly of XChaCha without HKDF: %v", err)
	}
}

func TestValidation(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(testvault.Dir(t), "default", "cipher", DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	const flags = `"HKDF",
		"GCMIV128",
		"DirIV",
		"EMENames",
		"LongNames",
		"Raw64"`
	sub := func(in []byte, old, new string) []byte {
		s := string(in)
		if !strings.Contains(s, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	setFlags := func(f string) []byte { return sub(base, flags, f) }
	var c0 Config
	json.Unmarshal(base, &c0)
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	setKey := func(in []byte, n int) []byte {
		return sub(in, base64.StdEncoding.EncodeToString(c0.EncryptedKey), b64(n))
	}
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"empty":                      {nil, ErrInvalidConfig},
		"white space":                {[]byte(" \n\t\n"), ErrInvalidConfig},
		"truncated":                  {base[:len(base)/2], ErrInvalidConfig},
		"not an object":              {[]byte(`[1, 2]`), ErrInvalidConfig},
		"trailing garbage":           {append(bytes.Clone(base), "x"...), ErrInvalidConfig},
		"bad base64":                 {sub(base, `"EncryptedKey": "`, `"EncryptedKey": "!`), ErrInvalidConfig},
		"N is a string":              {sub(base, `"N": 1024`, `"N": "1024"`), ErrInvalidConfig},
		"null":                       {[]byte(`null`), ErrUnsupportedVersion},
		"version 3":                  {sub(base, `"Version": 2`, `"Version": 3`), ErrUnsupportedVersion},
		"version 1":                  {sub(base, `"Version": 2`, `"Version": 1`), ErrUnsupportedVersion},
		"no version":                 {sub(base, `"Version": 2,`, ``), ErrUnsupportedVersion},
		"N 512":                      {sub(base, `"N": 1024`, `"N": 512`), ErrWeakParameters},
		"N 0":                        {sub(base, `"N": 1024`, `"N": 0`), ErrWeakParameters},
		"R 4":                        {sub(base, `"R": 8`, `"R": 4`), ErrWeakParameters},
		"P 0":                        {sub(base, `"P": 1`, `"P": 0`), ErrWeakParameters},
		"KeyLen 16":                  {sub(base, `"KeyLen": 32`, `"KeyLen": 16`), ErrWeakParameters},
		"short salt":                 {sub(base, base64.StdEncoding.EncodeToString(c0.ScryptObject.Salt), b64(31)), ErrWeakParameters},
		"no salt":                    {sub(base, `"Salt": "`+base64.StdEncoding.EncodeToString(c0.ScryptObject.Salt)+`",`, ``), ErrWeakParameters},
		"N 2^29":                     {sub(base, `"N": 1024`, `"N": 536870912`), ErrInvalidConfig},
		"N 2^40":                     {sub(base, `"N": 1024`, `"N": 1099511627776`), ErrInvalidConfig},
		"N 1000000":                  {sub(base, `"N": 1024`, `"N": 1000000`), ErrInvalidConfig},
		"KeyLen 64":                  {sub(base, `"KeyLen": 32`, `"KeyLen": 64`), ErrInvalidConfig},
		"N*R too large":              {sub(sub(base, `"N": 1024`, `"N": 268435456`), `"R": 8`, `"R": 16`), ErrInvalidConfig},
		"unknown flag":               {setFlags(`"HKDF", "GCMIV128", "Bogus"`), ErrUnknownFeature},
		"flag in lower case":         {setFlags(`"hkdf", "GCMIV128"`), ErrUnknownFeature},
		"xchacha+siv":                {setFlags(`"HKDF", "XChaCha20Poly1305", "AESSIV"`), ErrInvalidConfig},
		"siv no gcm128":              {setFlags(`"HKDF", "AESSIV"`), ErrInvalidConfig},
		"xchacha+gcm128":             {setFlags(`"HKDF", "XChaCha20Poly1305", "GCMIV128"`), ErrInvalidConfig},
		"xchacha no hkdf":            {setFlags(`"XChaCha20Poly1305"`), ErrInvalidConfig},
		"no gcm128 (gocryptfs 0.6)":  {setFlags(`"HKDF", "DirIV", "EMENames"`), ErrUnsupportedVersion},
		"plain+diriv":                {setFlags(`"HKDF", "GCMIV128", "PlaintextNames", "DirIV"`), ErrInvalidConfig},
		"plain+emenames":             {setFlags(`"HKDF", "GCMIV128", "PlaintextNames", "EMENames"`), ErrInvalidConfig},
		"plain+longnames":            {setFlags(`"HKDF", "GCMIV128", "PlaintextNames", "LongNames"`), ErrInvalidConfig},
		"plain+raw64":                {setFlags(`"HKDF", "GCMIV128", "PlaintextNames", "Raw64"`), ErrInvalidConfig},
		"longnamemax flag, field 0":  {setFlags(`"HKDF", "GCMIV128", "LongNameMax"`), ErrInvalidConfig},
		"longnamemax field, no flag": {sub(base, `"Version": 2,`, `"Version": 2, "LongNameMax": 62,`), ErrInvalidConfig},
		"longnamemax 61":             {sub(setFlags(`"HKDF", "GCMIV128", "LongNameMax"`), `"Version": 2,`, `"Version": 2, "LongNameMax": 61,`), ErrInvalidConfig},
		"longnamemax 256":            {sub(setFlags(`"HKDF", "GCMIV128", "LongNameMax"`), `"Version": 2,`, `"Version": 2, "LongNameMax": 256,`), ErrInvalidConfig},
		"short key":                  {sub(base, `"EncryptedKey": "`, `"EncryptedKey": "AAAA`), ErrInvalidConfig},
		"no key":                     {sub(base, `"EncryptedKey": "`+base64.StdEncoding.EncodeToString(c0.EncryptedKey)+`",`, ``), ErrInvalidConfig},
		"60-byte key with HKDF":      {setKey(base, 60), ErrInvalidConfig},
		"64-byte key without HKDF":   {setKey(setFlags(`"GCMIV128", "DirIV", "EMENames"`), 64), ErrInvalidConfig},
	} {
		_, err := Parse(tc.data)
		if !isOnly(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Accepted variations: legacy flag sets with the right key length,
	// any order, LongNameMax 62..255 with its flag, FIDO2 parameters.
	for name, data := range map[string][]byte{
		"legacy":           setKey(setFlags(`"GCMIV128", "DirIV", "EMENames"`), 60),
		"no names flags":   setFlags(`"HKDF", "GCMIV128", "EMENames"`),
		"reordered":        setFlags(`"Raw64", "LongNames", "EMENames", "DirIV", "GCMIV128", "HKDF"`),
		"longnamemax 255":  sub(setFlags(`"HKDF", "GCMIV128", "LongNameMax", "EMENames"`), `"Version": 2,`, `"Version": 2, "LongNameMax": 255,`),
		"fido2 parameters": sub(setFlags(`"HKDF", "GCMIV128", "FIDO2"`), `"Version": 2,`, `"Version": 2, "FIDO2": {"CredentialID": "AAAA", "HMACSalt": "AAAA"},`),
	} {
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Load wraps the path into parse errors and keeps fs.ErrNotExist.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(dir, "empty.conf")
	os.WriteFile(p, nil, 0o600)
	if _, err := Load(p); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), p) {
		t.Fatalf("empty file: %v", err)
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
	// Without the leftover, the new config replaces the old one.
	os.Remove(p + ".tmp")
	if err := c.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(p); bytes.Equal(before, after) {
		t.Fatal("config not replaced")
	}
	if c3, err := Load(p); err != nil {
		t.Fatal(err)
	} else if k3, err := c3.Unlock([]byte("other")); err != nil || k3.Hex() != k.Hex() {
		t.Fatalf("unlock of the rewritten config: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o400 {
		t.Fatalf("rewritten config has mode %v", fi.Mode())
	}
	// An invalid config is not written.
	bad := *c
	bad.Version = 3
	if err := bad.WriteFile(p); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("invalid config written: %v", err)
	}
	// A missing directory fails cleanly.
	if err := c.WriteFile(filepath.Join(p+".nodir", "x")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	before, _ = os.ReadFile(p)
	if err := BackupFile(p); err != nil {
		t.Fatal(err)
	}
	if bak, _ := os.ReadFile(p + ".bak"); !bytes.Equal(bak, before) {
		t.Fatal("backup differs")
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
	const want = "0e3b389cb73ec2e7802459ab3725b7c1a25e478e2445f07b74b4eb3af34ca24a"
	// The display form of the golden init output, and variations.
	out, err := os.ReadFile(filepath.Join(testvault.Dir(t), "default", "init-output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(out), "0e3b389c")
	if i < 0 {
		t.Fatal("init-output.txt lacks the key")
	}
	display := string(out[i : i+len("0e3b389c-b73ec2e7-802459ab-3725b7c1-\n    a25e478e-2445f07b-74b4eb3a-f34ca24a")])
	for _, s := range []string{
		display, want, strings.ToUpper(want), " " + display + "\r\n",
		"0e3b389c-b73ec2e7-802459ab-3725b7c1-a25e478e-2445f07b-74b4eb3a-f34ca24a",
		"0e3b389c\tb73ec2e7\u00a0802459ab-3725b7c1-a25e478e-2445f07b-74b4eb3a-f34ca24a",
	} {
		k, err := ParseKey(s)
		if err != nil || k.Hex() != want {
			t.Fatalf("ParseKey(%q): %v", s, err)
		}
	}
	k, _ := ParseKey(want)
	type holder struct {
		K  Key
		KP *Key
	}
	h := holder{*k, k}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s %x %X %q %d %#v %+v", k, k, k, k, k, k, k, *k), fmt.Sprintf("%v %+v %#v", h, h, h)} {
		if strings.Contains(strings.ToLower(s), "0e3b") || strings.Contains(s, "14 59") || strings.Contains(s, "[14") {
			t.Fatalf("key leaked in %q", s)
		}
	}
	for _, bad := range []string{"", "zz", want[:62], want + "00", want[:63] + "g", want[:63] + "é", strings.Repeat("a", 1000)} {
		_, err := ParseKey(bad)
		if !isOnly(err, ErrBadKey) {
			t.Errorf("ParseKey(%q): %v", bad, err)
		}
		if len(bad) > 8 && strings.Contains(err.Error(), bad[:8]) {
			t.Errorf("error quotes the key: %v", err)
		}
	}
	if _, err := KeyFromBytes(make([]byte, 31)); !errors.Is(err, ErrBadKey) {
		t.Errorf("31-byte key: %v", err)
	}
	b := k.Bytes()
	b[0] ^= 1
	if k.Hex() != want {
		t.Fatal("Bytes is not a copy")
	}
	g1, _ := GenerateKey()
	g2, _ := GenerateKey()
	if g1.Hex() == g2.Hex() || g1.Hex() == strings.Repeat("0", 64) {
		t.Fatal("GenerateKey is not random")
	}
	k.Destroy()
	if k.Hex() != strings.Repeat("0", 64) {
		t.Fatal("Destroy did not zero the key")
	}
}

func TestSetPassword(t *testing.T) {
	k, _ := GenerateKey()
	c, err := New(k, []byte("old"), &Options{ScryptLogN: 10, LongNameMax: 100})
	if err != nil {
		t.Fatal(err)
	}
	before := *c
	if err := c.SetPassword(k, []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	// Only Salt and EncryptedKey change.
	if bytes.Equal(before.ScryptObject.Salt, c.ScryptObject.Salt) || bytes.Equal(before.EncryptedKey, c.EncryptedKey) {
		t.Fatal("salt or wrapped key unchanged")
	}
	after := *c
	after.ScryptObject.Salt, after.EncryptedKey = before.ScryptObject.Salt, before.EncryptedKey
	b1, _ := before.Marshal()
	b2, _ := after.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatalf("SetPassword changed more than salt and key:\n%s\n%s", b1, b2)
	}
	if _, err := c.Unlock([]byte("old")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password: %v", err)
	}
	if k2, err := c.Unlock([]byte("new")); err != nil || k2.Hex() != k.Hex() {
		t.Fatalf("new password: %v", err)
	}
	if err := c.SetPassword(k, []byte("newer"), 11); err != nil || c.ScryptObject.N != 2048 {
		t.Fatalf("logN 11: N=%d %v", c.ScryptObject.N, err)
	}
	// Refusals leave the config as it was.
	snap, _ := c.Marshal()
	for _, tc := range []struct {
		pw   string
		logN int
	}{{"x", 9}, {"x", -1}, {"x", 29}, {"", 0}} {
		if err := c.SetPassword(k, []byte(tc.pw), tc.logN); err == nil {
			t.Errorf("SetPassword(%q, %d) accepted", tc.pw, tc.logN)
		}
	}
	if now, _ := c.Marshal(); !bytes.Equal(now, snap) {
		t.Fatal("failed SetPassword changed the config")
	}
	if _, err := New(k, []byte("pw"), &Options{ScryptLogN: 9}); !errors.Is(err, ErrWeakParameters) {
		t.Fatalf("New with logN 9: %v", err)
	}
	// A FormatOnly config gets the default cost, not the placeholder.
	f, _ := FormatOnly(nil)
	if err := f.SetPassword(k, []byte("pw"), 10); err != nil || f.ScryptObject.N != 1024 {
		t.Fatal(err)
	}
}

func TestFormatOnly(t *testing.T) {
	// Without a config file (-masterkey), defaults equal a 2.x default vault.
	d, err := FormatOnly(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.FeatureFlags, " "); got != "HKDF GCMIV128 DirIV EMENames LongNames Raw64" {
		t.Fatalf("FormatOnly(nil) flags %q", got)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile(filepath.Join(t.TempDir(), DefaultFile)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("a config without a wrapped key was written: %v", err)
	}
	if _, err := d.Unlock([]byte("pw")); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Unlock of a FormatOnly config: %v", err)
	}
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
	dir := testvault.Dir(f)
	for _, v := range testvault.Forward {
		if b, err := os.ReadFile(filepath.Join(dir, v, "cipher", DefaultFile)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"Version":2}`))
	f.Add([]byte(`{"Version":2,"FeatureFlags":["PlaintextNames","LongNameMax"],"LongNameMax":62}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if out2, _ := c2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatal("Marshal is not stable")
		}
		// Everything the key schedule needs is usable (no panics).
		k, _ := KeyFromBytes(make([]byte, 32))
		if _, _, err := c.Ciphers(k, nil); err != nil {
			t.Fatalf("Ciphers of a valid config: %v", err)
		}
	})
}

// TestNewFIDO2: Options.FIDO2 records the token parameters and the FIDO2
// flag (last, as gocryptfs writes it), and the secret unlocks the config
// like a password; parameters without credential or salt are refused.
func TestNewFIDO2(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	defer key.Destroy()
	secret := bytes.Repeat([]byte{0xa5}, 32)
	p := &FIDO2Params{CredentialID: []byte("credential"), HMACSalt: bytes.Repeat([]byte{1}, 32), AssertOptions: []string{"pin=true"}}
	c, err := New(key, secret, &Options{ScryptLogN: MinScryptLogN, FIDO2: p})
	if err != nil {
		t.Fatal(err)
	}
	p.CredentialID[0] = 'X' // the config has its own copy
	if c.FIDO2 == nil || string(c.FIDO2.CredentialID) != "credential" || len(c.FIDO2.AssertOptions) != 1 {
		t.Fatalf("FIDO2 = %+v", c.FIDO2)
	}
	if fl := c.FeatureFlags; fl[len(fl)-1] != string(FlagFIDO2) {
		t.Errorf("flags %v: want FIDO2 last", fl)
	}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := back.Unlock(secret)
	if err != nil {
		t.Fatalf("unlock with the secret: %v", err)
	}
	k2.Destroy()
	if _, err := New(key, secret, &Options{ScryptLogN: MinScryptLogN, FIDO2: &FIDO2Params{CredentialID: []byte("c")}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("FIDO2 without a salt: %v", err)
	}
}

// TestPasswordHash: the scrypt hash of the password unlocks as the password
// does (libgocryptfs' cached-hash unlock), a wrong one does not, and a new
// password's hash comes back from SetPasswordHash.
func TestPasswordHash(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := New(key, []byte("one"), &Options{ScryptLogN: 10})
	if err != nil {
		t.Fatal(err)
	}
	h, err := cfg.PasswordHash([]byte("one"))
	if err != nil || len(h) != 32 {
		t.Fatalf("PasswordHash: %d bytes, %v", len(h), err)
	}
	k2, err := cfg.UnlockHash(h)
	if err != nil || k2.Hex() != key.Hex() {
		t.Fatalf("UnlockHash: %v", err)
	}
	bad := append([]byte(nil), h...)
	bad[0] ^= 1
	if _, err := cfg.UnlockHash(bad); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("a wrong hash: %v", err)
	}
	if _, err := cfg.UnlockHash(h[:16]); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("a short hash: %v", err)
	}
	h2, err := cfg.SetPasswordHash(key, []byte("two"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if k3, err := cfg.UnlockHash(h2); err != nil || k3.Hex() != key.Hex() {
		t.Fatalf("hash from SetPasswordHash: %v", err)
	}
	if k4, err := cfg.Unlock([]byte("two")); err != nil || k4.Hex() != key.Hex() {
		t.Fatalf("new password: %v", err)
	}
	if _, err := cfg.UnlockHash(h); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("the old hash still unlocks: %v", err)
	}
}
