//go:build linux

// Command weedcluster runs the SeaweedFS cluster of the tests (master,
// volume servers, filer, S3 gateway on loopback) for the benchmarks under
// bench/: it writes the endpoint and credentials as shell assignments to
// the file named by -env, and runs until SIGINT or SIGTERM, then stops
// the servers and removes their data.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealfs/sealfs/internal/testweed"
)

// runner is the testweed.TB of a command: failures end the process.
type runner struct {
	cleanups []func()
	dirs     []string
}

func (r *runner) Helper()                         {}
func (r *runner) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (r *runner) Fatal(args ...any)               { r.exit(fmt.Sprint(args...)) }
func (r *runner) Fatalf(format string, args ...any) {
	r.exit(fmt.Sprintf(format, args...))
}
func (r *runner) Skipf(format string, args ...any) { r.exit(fmt.Sprintf(format, args...)) }
func (r *runner) Cleanup(f func())                 { r.cleanups = append(r.cleanups, f) }
func (r *runner) TempDir() string {
	d, err := os.MkdirTemp("", "weedcluster-")
	if err != nil {
		r.exit(err.Error())
	}
	r.dirs = append(r.dirs, d)
	return d
}

func (r *runner) done() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	for _, d := range r.dirs {
		os.RemoveAll(d)
	}
}

func (r *runner) exit(msg string) {
	fmt.Fprintln(os.Stderr, "weedcluster:", msg)
	r.done()
	os.Exit(1)
}

func main() {
	volumes := flag.Int("volumes", 3, "volume servers")
	envFile := flag.String("env", "", "write AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY assignments to `FILE`")
	flag.Parse()
	r := &runner{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	c := testweed.Start(r, *volumes)
	env := fmt.Sprintf("AWS_ENDPOINT_URL=%s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_REGION=%s\n",
		c.Endpoint, c.AccessKey, c.SecretKey, testweed.Region)
	if *envFile != "" {
		if err := os.WriteFile(*envFile+".tmp", []byte(env), 0o600); err != nil {
			r.exit(err.Error())
		}
		if err := os.Rename(*envFile+".tmp", *envFile); err != nil {
			r.exit(err.Error())
		}
	}
	<-sig
	r.done()
}
