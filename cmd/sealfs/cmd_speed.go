package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/sealfs/sealfs/content"
)

type speedOptions struct {
	duration time.Duration
}

var cmdSpeed = &command{
	name:    "speed",
	summary: "measure the throughput of each content cipher on this CPU",
	help: `
Seals and opens 4 KiB blocks through sealfs' content codec with each
content cipher (AES-GCM-256, AES-SIV-512, XChaCha20-Poly1305) for a short
time and prints the throughput in MB/s (10^6 bytes of plaintext per
second, sealing and opening counted together), like gocryptfs -speed. The
cipher marked "(selected)" is the one to choose for a new vault on this
CPU: AES-GCM-256 when the CPU accelerates AES and carry-less
multiplication, else XChaCha20-Poly1305.`,
	flags: func(fs *flag.FlagSet) any {
		o := &speedOptions{}
		fs.DurationVar(&o.duration, "t", 300*time.Millisecond, "measure each cipher for `DURATION`")
		return o
	},
	run: runSpeed,
}

// aesAccelerated reports whether the CPU has AES and carry-less
// multiplication instructions (what makes AES-GCM fast).
func aesAccelerated() bool {
	switch runtime.GOARCH {
	case "amd64", "386":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	case "s390x":
		return cpu.S390X.HasAES && cpu.S390X.HasGHASH
	case "ppc64le":
		return true // POWER8+ has vcipher and vpmsumd
	}
	return false
}

// recommendedSuite is the content cipher for a new vault on this CPU.
func recommendedSuite() content.Suite {
	if aesAccelerated() {
		return content.AESGCM
	}
	return content.XChaCha20Poly1305
}

// cpuModel returns the CPU model name from /proc/cpuinfo, or the
// architecture.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, ok := strings.Cut(s.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// measure seals and opens 4 KiB blocks with one suite for about d and
// returns MB/s.
func measure(ctx context.Context, s content.Suite, d time.Duration) (float64, error) {
	key := make([]byte, s.KeySize())
	rand.Read(key)
	c, err := content.New(s, key)
	clear(key)
	if err != nil {
		return 0, err
	}
	plain := make([]byte, content.PlainBlockSize)
	id := make([]byte, content.FileIDSize)
	rand.Read(id)
	sealed := make([]byte, 0, c.CipherBlockSize())
	out := make([]byte, 0, content.PlainBlockSize)
	var n int64
	start := time.Now()
	for i := uint64(0); ; i++ {
		sealed = c.SealRandom(sealed[:0], plain, i, id)
		var err error
		if out, err = c.Open(out[:0], sealed, i, id); err != nil {
			return 0, err
		}
		n += content.PlainBlockSize
		if i%64 == 63 {
			if el := time.Since(start); el >= d || ctx.Err() != nil {
				return float64(n) / el.Seconds() / 1e6, ctx.Err()
			}
		}
	}
}

func runSpeed(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*speedOptions)
	if len(args) != 0 {
		return usageErrorf("speed takes no arguments")
	}
	if o.duration <= 0 || o.duration > time.Minute {
		return usageErrorf("-t: %v is out of range (0, 1m]", o.duration)
	}
	return printSpeed(ctx, e.stdout, o.duration)
}

func printSpeed(ctx context.Context, w io.Writer, d time.Duration) error {
	fmt.Fprintln(w, versionLine())
	accel := "without"
	if aesAccelerated() {
		accel = "with"
	}
	fmt.Fprintf(w, "cpu: %s; %s AES acceleration\n", cpuModel(), accel)
	rec := recommendedSuite()
	for _, s := range []content.Suite{content.AESGCM, content.AESSIV, content.XChaCha20Poly1305} {
		mbs, err := measure(ctx, s, d)
		if err != nil {
			return err
		}
		mark := ""
		if s == rec {
			mark = "\t(selected)"
		}
		fmt.Fprintf(w, "%-19s\t%7.2f MB/s%s\n", s, mbs, mark)
	}
	return nil
}
