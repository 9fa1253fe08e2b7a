package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the sealfs version; release builds may set it with
// -ldflags "-X main.version=v1.2.3". By default it comes from the build
// information.
var version = ""

var cmdVersion = &command{
	name:    "version",
	summary: "print the version of sealfs and its main dependencies",
	help: `
Prints one line: "sealfs VERSION; go-fuse VERSION; [BUILD DATE] GO VERSION OS/ARCH".
"sealfs -version" does the same.`,
	run: func(ctx context.Context, e *env, opts any, args []string) error {
		if len(args) != 0 {
			return usageErrorf("version takes no arguments")
		}
		fmt.Fprintln(e.stdout, versionLine())
		return nil
	},
}

// programVersion returns the sealfs version, or "" for a development
// build without version information.
func programVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = info.Main.Version
	}
	if v == "(devel)" {
		v = ""
	}
	return strings.TrimPrefix(v, "v")
}

// versionLine returns the version line in the style of gocryptfs -version.
func versionLine() string {
	v, fuse, date := programVersion(), "[not linked]", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/hanwen/go-fuse/v2" {
				fuse = strings.TrimPrefix(d.Version, "v")
				if d.Replace != nil {
					fuse = strings.TrimPrefix(d.Replace.Version, "v")
				}
			}
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.time" && len(s.Value) >= 10 {
				date = s.Value[:10] + " "
			}
		}
	}
	if v == "" {
		v = "[devel]"
	}
	return fmt.Sprintf("sealfs %s; go-fuse %s; %s%s %s/%s", v, fuse, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
