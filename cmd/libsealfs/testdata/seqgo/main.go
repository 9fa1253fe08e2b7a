// Command seqgo is seq_bench.c with the Go library, run as a process of
// its own so that both sides of BenchmarkSequential1MiB start alike: it
// makes a vault in os.Args[1], writes os.Args[2] MiB to one file in 1 MiB
// writes after the same warm-up, reads it back, and prints
// "WRITE_MBps READ_MBps".
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	mib, err := strconv.Atoi(os.Args[2])
	if err != nil {
		return err
	}
	v, err := sealfs.Create(os.Args[1], []byte("bench"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	if err != nil {
		return err
	}
	defer v.Close()
	f, err := v.OpenFile("seq.bin", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := bytes.Repeat([]byte("x"), 1<<20)
	for range 2 {
		for i := range 32 {
			if _, err := f.WriteAt(buf, int64(i)<<20); err != nil {
				return err
			}
			if _, err := f.ReadAt(buf, int64(i)<<20); err != nil {
				return err
			}
		}
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	t0 := time.Now()
	for i := range mib {
		if _, err := f.WriteAt(buf, int64(i)<<20); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	t1 := time.Now()
	for i := range mib {
		if _, err := f.ReadAt(buf, int64(i)<<20); err != nil {
			return err
		}
	}
	t2 := time.Now()
	fmt.Printf("%.1f %.1f\n", float64(mib)/t1.Sub(t0).Seconds(), float64(mib)/t2.Sub(t1).Seconds())
	return nil
}
