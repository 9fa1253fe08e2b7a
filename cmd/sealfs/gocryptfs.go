package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The gocryptfs-style command line: "sealfs -init CIPHERDIR",
// "sealfs [options] CIPHERDIR MOUNTPOINT [-o a,b,c]" and the other action
// flags of gocryptfs (FORMAT.md §14) are translated into subcommands, so
// that scripts, fstab lines, pam_mount and GUIs written for gocryptfs work
// with sealfs by changing the program name.

// gocryptfsActions maps gocryptfs' action flags to subcommand names. An
// action whose subcommand is not part of this build is reported as such.
var gocryptfsActions = map[string]string{
	"init":    "init",
	"passwd":  "passwd",
	"info":    "info",
	"fsck":    "fsck",
	"speed":   "speed",
	"version": "version",
	"h":       "help",
	"help":    "help",
	"hh":      "help",
}

// gocryptfsNoops are options gocryptfs accepts for every action that have
// no effect in sealfs; they are dropped when the chosen subcommand does not
// define them. The value says whether the option takes an argument.
var gocryptfsNoops = map[string]bool{
	"q": false, "quiet": false, "d": false, "debug": false,
	"wpanic": false, "nosyslog": false, "fusedebug": false, "nofail": false,
	"devrandom": false, "serialize_reads": false, "forcedecode": false, "zerokey": false, // -init -zerokey: ignored, as by gocryptfs 2.3
	"openssl": true, "cpuprofile": true, "memprofile": true, "trace": true, // profiles: mount only
}

// mountHelperOptions are options of mount(8), systemd and /etc/fstab that
// may reach the program through "-o" (mount.fuse3 drops most of them, a
// direct call may not). They mean nothing to the file system itself.
var mountHelperOptions = map[string]bool{
	"nofail": true, "_netdev": true, "auto": true, "noauto": true,
	"user": true, "users": true, "nouser": true, "owner": true,
	"group": true, "defaults": true,
	// The FUSE kernel options of a mounted file system, which mount.fuse3
	// passes on from /proc/self/mountinfo with "remount".
	"user_id": true, "group_id": true, "max_read": true, "rootmode": true,
	"blksize": true, "fd": true,
}

// expandO replaces every "-o a,b=c" (also "--o", "-o=a,b") by "-a -b=c",
// as gocryptfs does, so that mount.fuse3 ("PROG CIPHERDIR MNT -o opts")
// and fstab lines work. Options of mount(8) and systemd (nofail, _netdev,
// x-*, comment=...) are dropped. Arguments after "--" are left alone.
func expandO(all []string) ([]string, error) {
	args, tail := splitOptionEnd(all)
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var list string
		switch {
		case a == "-o" || a == "--o":
			if i+1 >= len(args) {
				return nil, usageErrorf("the -o option needs an argument")
			}
			i++
			list = args[i]
		case strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--o="):
			_, list, _ = strings.Cut(a, "=")
		default:
			out = append(out, a)
			continue
		}
		for _, o := range strings.Split(list, ",") {
			name, _, _ := strings.Cut(o, "=")
			switch {
			case o == "":
			case name == "o" || name == "-o":
				return nil, usageErrorf("-o cannot be given inside -o")
			case mountHelperOptions[name], strings.HasPrefix(name, "x-"), name == "comment":
			default:
				out = append(out, "-"+o)
			}
		}
	}
	return append(out, tail...), nil
}

// optionName returns the name of an option argument ("-a=b" and "--a"
// give "a"), or "" if a is not an option.
func optionName(a string) string {
	if len(a) < 2 || a[0] != '-' || a == "--" {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name
}

// isGocryptfsStyle reports whether args (after the program name) are a
// gocryptfs-style command line rather than "sealfs COMMAND ...": they start
// with an option, or name no subcommand but two directories
// ("sealfs CIPHERDIR MOUNTPOINT").
func isGocryptfsStyle(args []string) bool {
	if optionName(args[0]) != "" {
		return true
	}
	if lookupCommand(args[0]) != nil {
		return false
	}
	pos := 0
	for _, a := range args {
		if a == "--" {
			return true
		}
		if optionName(a) == "" {
			pos++
		}
	}
	return pos >= 2
}

// translateGocryptfs turns a gocryptfs-style command line into a
// subcommand name and its arguments: the action flag (-init, -passwd,
// -info, -fsck, -speed, -version, -h) chooses the subcommand, mounting
// being the default; -o lists are expanded; no-op gocryptfs options the
// subcommand does not know are dropped. Other options, -reverse among
// them, pass through unchanged.
func translateGocryptfs(args []string) (string, []string, error) {
	args, err := expandO(args)
	if err != nil {
		return "", nil, err
	}
	action, actionFlag := "", ""
	args, tail := splitOptionEnd(args)
	var rest []string
	for _, a := range args {
		name := optionName(a)
		if cmd, ok := gocryptfsActions[name]; ok && !strings.Contains(a, "=") {
			if action != "" && cmd != action {
				return "", nil, usageErrorf("only one of -init, -passwd, -info, -fsck, -speed, -version may be given (got %s and %s)", actionFlag, a)
			}
			action, actionFlag = cmd, a
			continue
		}
		rest = append(rest, a)
	}
	rest = append(rest, tail...)
	if action == "" {
		action = "mount"
	}
	if action == "help" || action == "version" {
		return action, nil, nil
	}
	c := lookupCommand(action)
	if c == nil {
		return "", nil, usageErrorf("%s is not supported by this build of sealfs", actionFlag)
	}
	return action, dropNoops(c, rest), nil
}

// dropNoops removes the gocryptfs options that have no effect in sealfs
// and that c does not define (with their values).
func dropNoops(c *command, args []string) []string {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
	}
	args, tail := splitOptionEnd(args)
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := optionName(a)
		takesValue, noop := gocryptfsNoops[name]
		if name == "" || !noop || fs.Lookup(name) != nil {
			out = append(out, a)
			continue
		}
		if takesValue && !strings.Contains(a, "=") {
			i++ // and its value
		}
	}
	return append(out, tail...)
}

// splitOptionEnd splits args before the first "--", which stays with the
// tail.
func splitOptionEnd(args []string) (head, tail []string) {
	if i := slices.Index(args, "--"); i >= 0 {
		return args[:i], args[i:]
	}
	return args, nil
}

// printGocryptfsUsage is "sealfs -h": the gocryptfs-style synopsis, then
// the subcommands.
func printGocryptfsUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: sealfs -init|-passwd|-info|-fsck [OPTIONS] CIPHERDIR\n")
	fmt.Fprintf(w, "  or   sealfs [OPTIONS] CIPHERDIR MOUNTPOINT [-o COMMA-SEPARATED-OPTIONS]\n")
	fmt.Fprintf(w, "  or   sealfs -speed | -version | -h\n")
	fmt.Fprintf(w, "  or   sealfs COMMAND [options] ARGS...\n\n")
	fmt.Fprintf(w, "The gocryptfs-style forms take gocryptfs' options; each maps to the\n"+
		"subcommand of the same name (mounting: 'sealfs mount'), so 'sealfs help init'\n"+
		"or 'sealfs help mount' lists the options.\n\n")
	printUsage(w)
}
