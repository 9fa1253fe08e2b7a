package fsck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/vault"
)

// BenchmarkCheck checks a vault of $SEALFS_BENCH_FILES small files (default
// 10,000) in 100 directories; it reports files/s. Measured figure (2-core
// machine, tmpfs):
//
//	SEALFS_BENCH_FILES=100000 go test -run '^$' -bench BenchmarkCheck -benchtime 3x ./fsck/
func BenchmarkCheck(b *testing.B) {
	n := 10000
	if s := os.Getenv("SEALFS_BENCH_FILES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := filepath.Join(b.TempDir(), "v")
	os.Mkdir(dir, 0o700)
	key, _ := vault.GenerateKey()
	defer key.Destroy()
	v, err := sealfs.Create(dir, []byte("bench"), &sealfs.CreateOptions{MasterKey: key, Options: vault.Options{ScryptLogN: vault.MinScryptLogN}})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1000)
	for i := range n {
		d := fmt.Sprintf("d%02d", i%100)
		if i < 100 {
			if err := v.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := v.WriteFile(fmt.Sprintf("%s/file-%06d.txt", d, i), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	v.Close()
	cfg, err := vault.Load(filepath.Join(dir, vault.DefaultFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		rep, err := fsck.Check(context.Background(), dir, cfg, key, nil)
		if err != nil || len(rep.Findings) != 0 || rep.Stats.Files != int64(n) {
			b.Fatalf("%v %d findings, %d files", err, len(rep.Findings), rep.Stats.Files)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
