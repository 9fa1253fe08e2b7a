package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// profileFlags are gocryptfs' -cpuprofile, -memprofile and -trace: Go
// profiles of the serving process, from before the mount until it ends.
type profileFlags struct {
	cpu, mem, trace string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile (go tool pprof) of the mount to `FILE` when it ends")
	fs.StringVar(&p.mem, "memprofile", "", "write a heap and allocation profile (go tool pprof) of the mount to `FILE` when it ends")
	fs.StringVar(&p.trace, "trace", "", "write an execution trace (go tool trace) of the mount to `FILE` when it ends")
}

// absolute makes the file names independent of the working directory,
// which the background process leaves.
func (p *profileFlags) absolute() error {
	for _, s := range []*string{&p.cpu, &p.mem, &p.trace} {
		if *s == "" {
			continue
		}
		abs, err := filepath.Abs(*s)
		if err != nil {
			return err
		}
		*s = abs
	}
	return nil
}

// start creates the files and starts the CPU profile and the trace; stop
// ends them and writes the heap profile. A file that cannot be created is
// a usage error, before anything is mounted.
func (p *profileFlags) start() (stop func() error, err error) {
	var files []*os.File
	var stops []func()
	fail := func(err error) (func() error, error) {
		for _, s := range stops {
			s()
		}
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
		return nil, usageErrorf("%v", err)
	}
	create := func(name string) (*os.File, error) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	for _, pr := range []struct {
		file, flag string
		start      func(io.Writer) error
		stop       func()
	}{
		{p.cpu, "-cpuprofile", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{p.trace, "-trace", trace.Start, trace.Stop},
	} {
		if pr.file == "" {
			continue
		}
		f, err := create(pr.file)
		if err != nil {
			return fail(err)
		}
		if err := pr.start(f); err != nil {
			return fail(fmt.Errorf("%s: %w", pr.flag, err))
		}
		stops = append(stops, pr.stop)
	}
	var mem *os.File
	if p.mem != "" {
		if mem, err = create(p.mem); err != nil {
			return fail(err)
		}
	}
	return func() error {
		for _, s := range stops {
			s()
		}
		var errs []error
		if mem != nil {
			runtime.GC() // the heap profile shows the state as of the last GC
			errs = append(errs, pprof.Lookup("heap").WriteTo(mem, 0))
		}
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}, nil
}
