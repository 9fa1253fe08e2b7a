package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/sealfs/sealfs/vault"
	"io"
	"sort"
	"strings"

	"golang.org/x/term"
)

// command is one subcommand of sealfs.
type command struct {
	name    string
	args    string // argument synopsis after the options, e.g. "CIPHERDIR"
	summary string // one line for the command list
	help    string // paragraphs printed by "sealfs help NAME" before the options
	// flags registers the command's options on fs and returns the value
	// the run function receives.
	flags func(fs *flag.FlagSet) any
	// run executes the command with the parsed options and the
	// positional arguments.
	run func(ctx context.Context, e *env, opts any, args []string) error
}

// commands lists the subcommands in the order "sealfs help" shows them.
var commands = []*command{
	cmdInit,
	cmdPasswd,
	cmdInfo,
	cmdFsck,
	cmdXray,
	cmdSpeed,
	cmdEncryptPath,
	cmdDecryptPath,
	cmdLs,
	cmdCat,
	cmdDecrypt,
	cmdEncrypt,
	cmdExport,
	cmdServe,
	cmdMount,
	cmdUnmount,
	cmdVersion,
}

func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// env is the process environment a command runs in: standard streams and
// whether they are terminals.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinFd is the file descriptor of stdin when it is a terminal, else -1.
	stdinFd    int
	stdoutTerm bool
	stderrTerm bool
	// infow receives informational messages: stdout by default (as in
	// gocryptfs), stderr for commands whose stdout is data.
	infow io.Writer
	// quiet suppresses informational messages (-q).
	quiet bool
	// argv is the command line after the program name.
	argv []string
}

// newEnv describes the given streams, detecting terminals.
func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, stdinFd: -1, infow: stdout}
	if fd, ok := termFd(stdin); ok {
		e.stdinFd = fd
	}
	_, e.stdoutTerm = termFd(stdout)
	_, e.stderrTerm = termFd(stderr)
	return e
}

// termFd returns the file descriptor of v if it is a terminal.
func termFd(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		return -1, false
	}
	return fd, true
}

// infof prints an informational message unless -q was given.
func (e *env) infof(format string, args ...any) {
	if e.quiet {
		return
	}
	fmt.Fprintf(e.infow, format, args...)
}

// warnf prints a warning on stderr.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "sealfs: "+format, args...)
}

// run is the whole program: it runs the subcommand named by args[0] and
// returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, newEnv(stdin, stdout, stderr), args)
}

func runEnv(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "h" {
		if len(rest) > 0 {
			c := lookupCommand(rest[0])
			if c == nil {
				e.warnf("unknown command %q\n", rest[0])
				printUsage(e.stderr)
				return exitUsage
			}
			printCommandHelp(e.stdout, c)
			return exitOK
		}
		printUsage(e.stdout)
		return exitOK
	}
	if isGocryptfsStyle(args) {
		var err error
		if name, rest, err = translateGocryptfs(args); err != nil {
			e.warnf("%v\n", err)
			fmt.Fprintf(e.stderr, "Run 'sealfs -h' for usage.\n")
			return exitCode(err)
		}
		if name == "help" {
			printGocryptfsUsage(e.stdout)
			return exitOK
		}
	}
	c := lookupCommand(name)
	if c == nil {
		e.warnf("unknown command %q\n", name)
		printUsage(e.stderr)
		return exitUsage
	}
	return runCommand(ctx, e, c, rest)
}

// runCommand parses the options of c from args and runs it. "-o a,b" is
// expanded into "-a -b" first (for commands without an option -o).
func runCommand(ctx context.Context, e *env, c *command, args []string) int {
	fs := flag.NewFlagSet("sealfs "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts any
	if c.flags != nil {
		opts = c.flags(fs)
	}
	var err error
	if fs.Lookup("o") == nil {
		if args, err = expandO(args); err != nil {
			e.warnf("%s: %v\n", c.name, err)
			return exitUsage
		}
	}
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(e.stdout, c)
		return exitOK
	}
	if err != nil {
		e.warnf("%s: %v\n", c.name, err)
		fmt.Fprintf(e.stderr, "Run 'sealfs help %s' for usage.\n", c.name)
		return exitUsage
	}
	e.argv = append([]string{c.name}, args...)
	err = c.run(ctx, e, opts, pos)
	if err == nil {
		return exitOK
	}
	if ec := exitCodeError(0); errors.As(err, &ec) {
		return int(ec) // the background process has said why
	}
	if ctx.Err() != nil {
		// Interrupted: whatever failed, failed because of that.
		e.warnf("interrupted: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return exitSigInt
	}
	code := exitCode(err)
	if code == exitPasswordIncorrect && errors.Is(err, vault.ErrWrongPassword) {
		// One line, gocryptfs' own, which front ends look for.
		fmt.Fprintf(e.stderr, "Password incorrect.\n")
		return code
	}
	e.warnf("%s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	if code == exitUsage {
		fmt.Fprintf(e.stderr, "Run 'sealfs help %s' for usage.\n", c.name)
	}
	return code
}

// parseArgs parses the options of a subcommand. Unlike flag.Parse, it
// accepts options after positional arguments (as gocryptfs does): every
// argument that looks like an option is treated as one, up to a "--",
// after which everything is positional. It returns the positional
// arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // fs.Parse reports it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	if extra := fs.Args(); len(extra) > 0 {
		// Cannot happen: every element of flags is an option or a value.
		return nil, fmt.Errorf("unexpected argument %q", extra[0])
	}
	return pos, nil
}

// printUsage prints the command overview.
func printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: sealfs COMMAND [options] ARGS...\n\n")
	fmt.Fprintf(w, "sealfs works with gocryptfs-compatible encrypted directories.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-12s %s\n", "help", "show help for a command")
	fmt.Fprintf(w, "\nRun 'sealfs help COMMAND' or 'sealfs COMMAND -h' for the options of a command.\n")
}

// internalUsage starts the usage text of options that sealfs passes to
// itself; help does not list them.
const internalUsage = "(internal) "

// printCommandHelp prints the help text and options of one command.
func printCommandHelp(w io.Writer, c *command) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
	}
	synopsis := "sealfs " + c.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		synopsis += " [options]"
	}
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	if !hasFlags {
		return
	}
	fmt.Fprintf(w, "\nOptions (one or two dashes; options may follow the arguments; -- ends them):\n")
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, internalUsage) {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		s := "  -" + f.Name
		if name != "" {
			s += " " + name
		}
		s += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			s += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, s)
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// exactArgs checks the number of positional arguments.
func exactArgs(args []string, names ...string) error {
	if len(args) != len(names) {
		return usageErrorf("expected %d argument(s) (%s), got %d", len(names), strings.Join(names, " "), len(args))
	}
	return nil
}
