package reverse

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"testing"
)

// The block nonce is BLOCK0IV with its last 8 bytes increased by the block
// number modulo 2^64; the first 8 bytes never change (§10.4).
func TestBlockNonceWraps(t *testing.T) {
	var fl file
	copy(fl.b0[:], bytes.Repeat([]byte{0xff}, 16))
	fl.b0[0] = 0x12
	n := fl.nonce(0)
	if n != fl.b0 {
		t.Fatalf("nonce(0) = %x", n)
	}
	n = fl.nonce(1)
	if want := "12ffffffffffffff0000000000000000"; hex.EncodeToString(n[:]) != want {
		t.Fatalf("nonce(1) = %x, want %s", n, want)
	}
	n = fl.nonce(3)
	if want := "12ffffffffffffff0000000000000002"; hex.EncodeToString(n[:]) != want {
		t.Fatalf("nonce(3) = %x, want %s", n, want)
	}
}

// The root directory IV of every reverse view is a constant (§10.3).
func TestRootDirIV(t *testing.T) {
	if got := hex.EncodeToString(PathIV("", "DIRIV")); got != "a8f7bac432ddc1cb3dc74e684d6ae48b" {
		t.Fatalf("root DIRIV = %s", got)
	}
}

func TestInoMap(t *testing.T) {
	var m inoMap
	m.init(7)
	if got := m.ino(7, 42, kReal, ""); got != 42 {
		t.Errorf("real object on the root device: %d", got)
	}
	if got := m.ino(7, 42, kConfig, ""); got != 42 {
		t.Errorf("config: %d", got)
	}
	if got := m.ino(7, 42, kDirIV, ""); got != 1<<48|42 {
		t.Errorf("diriv: %#x", got)
	}
	if got := m.ino(7, 42, kName, ""); got != 2<<48|42 {
		t.Errorf(".name: %#x", got)
	}
	a, b := m.ino(9, 42, kReal, ""), m.ino(9, 42, kDirIV, "")
	if a != 3<<48|42 || b != 4<<48|42 {
		t.Errorf("other device: %#x %#x", a, b)
	}
	big := m.ino(7, 1<<50, kReal, "")
	if big&spillBit == 0 || m.ino(7, 1<<50, kReal, "") != big {
		t.Errorf("large inode number: %#x", big)
	}
	x, y := m.ino(7, 42, kName, "a"), m.ino(7, 42, kName, "b")
	if x == y || x&spillBit == 0 || m.ino(7, 42, kName, "a") != x {
		t.Errorf("distinct numbers: %#x %#x", x, y)
	}
	// Namespaces run out: spilled numbers, still distinct.
	for d := uint64(100); d < 100+maxNS; d++ {
		m.ino(d, 1, kReal, "")
	}
	p, q := m.ino(1<<40, 1, kReal, ""), m.ino(1<<40+1, 1, kReal, "")
	if p == q || p&spillBit == 0 {
		t.Errorf("exhausted namespaces: %#x %#x", p, q)
	}
}

func TestLongCacheBounded(t *testing.T) {
	var c longCache
	for i := range 1000 {
		c.put(strconv.Itoa(i), dirIdentity{ino: uint64(i)}, map[string]string{"h": "p"})
	}
	if len(c.dirs) > longCacheDirs {
		t.Fatalf("%d directories cached", len(c.dirs))
	}
	big := map[string]string{}
	for i := range longCacheNames + 10 {
		big[strconv.Itoa(i)] = "p"
	}
	c.put("big", dirIdentity{}, big)
	if len(c.dirs) != 1 || c.names != len(big) {
		t.Fatalf("after a huge directory: %d dirs, %d names", len(c.dirs), c.names)
	}
	if _, ok, fresh := c.get("big", dirIdentity{}, "x"); ok || !fresh {
		t.Fatal("fresh miss expected")
	}
	if _, _, fresh := c.get("big", dirIdentity{mtime: 1}, "x"); fresh {
		t.Fatal("changed identity must not be fresh")
	}
}
