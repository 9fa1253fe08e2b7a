// Command sealfs works with gocryptfs-compatible encrypted directories
// ("vaults") without mounting them.
//
// Usage:
//
//	sealfs COMMAND [options] ARGS...
//
// Options take one or two dashes (-q or --q), a value either as the next
// argument or after "=" (-scryptn 10, -scryptn=10), and may come before or
// after the positional arguments; "--" ends the options. "sealfs help
// COMMAND" or "sealfs COMMAND -h" shows the options of a command.
//
// # Commands
//
//	sealfs init [-plaintextnames] [-aessiv | -xchacha] [-deterministic-names]
//	            [-longnamemax N] [-scryptn LOGN] [-passfile FILE | -extpass CMD]
//	            [-masterkey KEY] [-fido2 DEVICE [-fido2-assert-option OPT]...]
//	            [-config FILE] [-reverse] [-q] CIPHERDIR
//
// Creates a vault in CIPHERDIR, which must exist and be empty: the config
// file gocryptfs.conf (mode 0400) and, unless names are plaintext or
// deterministic, the root gocryptfs.diriv. The password is read twice on a
// terminal. A random master key is generated unless -masterkey gives one;
// when stdout is a terminal and -q is not given, the generated key is shown
// once, in the same form as gocryptfs:
//
//	Your master key is:
//
//	    0e3b389c-b73ec2e7-802459ab-3725b7c1-
//	    a25e478e-2445f07b-74b4eb3a-f34ca24a
//
// Otherwise "Not running on a terminal, suppressing master key display" is
// printed instead (a key given with -masterkey is never shown). -reverse writes PLAINDIR/.gocryptfs.reverse.conf for
// reverse mode (AES-SIV; the directory need not be empty; the config must
// not exist yet). With -fido2, the password is the hmac-secret of a new
// credential on the FIDO2 token DEVICE (fido2-cred and fido2-assert from
// libfido2's tools, as in gocryptfs; every -fido2-assert-option OPT is
// stored and passed as "-t OPT" on each unlock), and the vault is then
// unlocked with -fido2 DEVICE. -scryptn is 10..28 (default 16). -raw64=false,
// -hkdf=false and -devrandom are accepted and ignored, as by gocryptfs 2.x.
//
//	sealfs passwd [-masterkey KEY] [-passfile FILE | -extpass CMD] [-scryptn LOGN] [-config FILE] [-reverse] [-q] CIPHERDIR
//
// Rewraps the master key under a new password (new random salt; N kept
// unless -scryptn is given); nothing else in the config and no file of the
// vault changes. The old password comes from -passfile, -extpass, stdin or
// the terminal, or is replaced by -masterkey; the new one always comes from
// stdin or the terminal (with piped stdin and no -passfile, line 1 is the
// old and line 2 the new password). With -masterkey, the old config is
// kept as a hard link CONFIG.bak first.
//
//	sealfs info [-config FILE] [-reverse] [-stats [unlock options]] CIPHERDIR
//
// Prints the config like gocryptfs -info (no password needed):
//
//	Creator:           gocryptfs 2.3
//	FeatureFlags:      HKDF GCMIV128 DirIV EMENames LongNames Raw64
//	EncryptedKey:      64B
//	ScryptObject:      Salt=32B N=1024 R=8 P=1 KeyLen=32
//	contentEncryption: AES-GCM-256
//
// With -stats (forward vaults) it unlocks the vault and adds the numbers
// of files, directories, symlinks and other objects and the plaintext and
// ciphertext bytes ("Files:", "Directories:", ... lines), walking the
// ciphertext without reading content blocks.
//
//	sealfs fsck [-repair [-dry-run]] [unlock options] CIPHERDIR
//
// Checks the vault without mounting: directory IVs, names and .name files,
// headers and blocks (holes skipped), symlink targets, xattrs. One line per
// problem ("fsck: KIND: PLAINPATH (ciphertext CIPHERPATH): ERROR"), then
// "fsck summary: ..."; exit code 26 on problems, 0 when clean. Warnings
// (1..17 byte files, orphaned .name files) do not count, as in gocryptfs.
// -repair fixes what loses no data (recoverable headers, short files,
// orphaned .name files, missing dirivs) and moves objects whose name or
// header is lost to lost+found in the vault root; corrupt blocks, symlink
// targets and xattrs are only reported. After -repair the exit code is 0
// when every problem was repaired. -dry-run prints the plan only.
//
//	sealfs encrypt-path [unlock options] [-reverse] CIPHERDIR PLAINPATH...
//	sealfs decrypt-path [unlock options] [-reverse] CIPHERDIR CIPHERPATH...
//
// Map paths like the control socket, without a mount: one output line per
// argument (exit code 11 if any failed). CIPHERDIR may be a reverse-mode
// plaintext directory (detected by its .gocryptfs.reverse.conf).
//
//	sealfs xray [-aessiv|-xchacha] [-config FILE] FILE
//	sealfs xray -dumpmasterkey [-passfile FILE|-extpass CMD] CONFIG
//	sealfs xray -decrypt [unlock options] FILE
//
// Like gocryptfs-xray: the header and every block's nonce, tag, offset and
// length of a ciphertext file (the cipher comes from the flags, else the
// vault's config, else AES-GCM-256 is assumed); the master key of a
// config; or one file decrypted to stdout.
//
//	sealfs speed [-t DURATION]
//
// Throughput of each content cipher on this CPU and the one to choose
// (AES-GCM-256 with AES and carry-less multiply instructions, else
// XChaCha20-Poly1305).
//
//	sealfs ls [-l] [-R] [unlock options] CIPHERDIR [PATH]
//	sealfs cat [unlock options] CIPHERDIR PATH...
//
// List a directory (or one object) of the vault, and print decrypted files,
// without mounting. PATH is a plaintext path inside the vault ("/" or
// nothing for the root). -l shows mode, link count, owner, group, size,
// modification time and symlink targets; -R lists the whole subtree. cat
// follows symlinks inside the vault. Both open the vault read-only.
//
//	sealfs decrypt [-force] [-stats] [unlock options] CIPHERDIR OUTDIR
//
// Writes the whole decrypted tree to OUTDIR: files, directories, symlinks,
// FIFOs and device nodes, with permission bits (setuid, setgid and sticky
// included), modification and access times, extended attributes and hard
// links; ownership too when running as root. Holes stay holes, and aligned
// 4 KiB blocks of zeros become holes. OUTDIR is created if missing (its
// parent must exist); an existing OUTDIR must be empty unless -force is
// given, which merges directories and replaces other objects. OUTDIR and
// CIPHERDIR must not contain each other. Objects that fail (corrupt
// ciphertext, write errors) are reported and skipped, and the exit code is
// then 11; running out of space stops the command. A progress line is
// shown when stderr is a terminal (-q turns it off). -stats ends with a
// line of what was copied (objects, bytes, time) and, for a vault in a
// bucket, the requests sent by S3 operation and the bytes sent and
// received; export takes -stats too.
//
//	sealfs encrypt [-force] [-stats] [unlock options] PLAINDIR CIPHERDIR
//
// Copies a plaintext tree into the root of an existing vault with the same
// fidelity as decrypt (only user.* extended attributes are copied). Holes
// of the source files stay holes; written zeros are encrypted like any
// data. Existing directories are merged; any other object that exists
// already is an error (the others are still copied, exit code 11) unless
// -force replaces it.
//
//	sealfs version
//
// Prints "sealfs VERSION; go-fuse VERSION; [DATE] GOVERSION OS/ARCH", like
// gocryptfs -version. "sealfs -version" is the same.
//
// # The gocryptfs command line
//
// The command lines of gocryptfs work as they are:
//
//	sealfs -init [init options] CIPHERDIR       same as "sealfs init"
//	sealfs -passwd|-info|-fsck [options] CIPHERDIR
//	sealfs -speed | -version | -h
//	sealfs [mount options] CIPHERDIR MOUNTPOINT [-o a,b,c]   same as "sealfs mount"
//
// An argument list that starts with an option, or that names no command
// but two directories, is read this way. Only one action flag may be given
// (exit code 1); -reverse and every other option pass through to the
// command. "-o a,b=c" (anywhere, also after "sealfs mount") is "-a -b=c";
// options of mount(8) and systemd in it (nofail, _netdev, auto, noauto,
// user, users, nouser, defaults, x-*, comment=) are dropped, so that an
// /etc/fstab line of type fuse./path/to/sealfs works through mount.fuse3.
// gocryptfs options without effect in sealfs (-openssl, -wpanic,
// -cpuprofile, -memprofile, -trace, -nosyslog, ...) are accepted and
// ignored by commands that do not define them. mount also understands
// gocryptfs' -rw, -dev, -nodev, -suid, -nosuid, -exec, -noexec, -nofail,
// -fusedebug, the kernel options noatime, relatime, strictatime, atime,
// nodiratime, diratime, sync, async and dirsync, and -notifypid PID (send
// SIGUSR1 to PID once mounted). A wrong password also prints gocryptfs'
// line "Password incorrect.".
//
// # Unlock options
//
// ls, cat, decrypt, encrypt, fsck, encrypt-path, decrypt-path, xray -decrypt
// and info -stats take:
//
//	-passfile FILE   password = first line of FILE (repeatable: first lines concatenated)
//	-extpass CMD     password = first line of CMD's output (one argument is split on
//	                 spaces; repeat the option to pass arguments verbatim)
//	-masterkey KEY   use the master key (64 hex digits; dashes and spaces ignored)
//	                 instead of a password; -masterkey=stdin reads it like a password
//	-fido2 DEVICE    a FIDO2 vault: ask the token DEVICE (fido2-assert) for the secret
//	-config FILE     the config file (default CIPHERDIR/gocryptfs.conf)
//	-q, -quiet       no informational messages (and no progress line)
//
// and the format options of init (-aessiv, -xchacha, -plaintextnames,
// -deterministic-names, -longnamemax N, -raw64=false, -hkdf=false), which
// only matter with -masterkey when the config file does not exist.
//
// Without -passfile, -extpass or -masterkey, the password is read from
// stdin when stdin is not a terminal (up to the first newline; the rest
// stays unread) and otherwise from the terminal without echo ("Password: ",
// and "Repeat: " for a new password). Passwords are at most 2048 bytes and
// must not be empty. -passfile, -extpass and -masterkey exclude each other.
// A key given on the command line is visible to every user (ps) for as
// long as the command runs; the process that serves a background mount
// gets the key or password on a pipe, never in its arguments.
// Informational messages ("passfile: reading from file ...") go to stdout
// for init and passwd, as in gocryptfs, and to stderr for the other
// commands; -q silences them.
//
// # Vaults in S3 buckets
//
// init, mount (forward), ls, cat, decrypt, encrypt, fsck, info and passwd
// take s3://BUCKET/PREFIX for CIPHERDIR, and export takes it for OUTDIR.
// The bucket holds an ordinary gocryptfs vault (symlinks as rclone's
// NAME.rclonelink objects). Endpoint and credentials come from the
// standard AWS variables and files (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_PROFILE, ~/.aws). Writes go
// through a cache on local disk (-cache-dir, -cache-max-size) and are
// uploaded on fsync and close (a mount waits -write-back, 5 s, after the
// last close); an upload that would overwrite another client's change is
// refused with EIO and the content kept in the cache's conflicts folder.
//
// # Exit codes
//
// Errors are printed as one line on stderr starting with "sealfs: ". The
// exit codes are gocryptfs' (see FORMAT.md §13):
//
//	 0  success
//	 1  usage: unknown command or option, wrong number of arguments,
//	    -longnamemax out of range, conflicting password options
//	 6  CIPHERDIR missing or not a directory; not empty on init
//	 7  init: config already exists; passwd -masterkey: CONFIG.bak not creatable
//	 8  info: the config could not be loaded
//	 9  the password could not be read, or is empty
//	10  decrypt OUTDIR / encrypt PLAINDIR missing, not a directory, not empty
//	    (decrypt without -force), or overlapping CIPHERDIR
//	11  any other error, including objects that failed in ls, cat, decrypt
//	    and encrypt
//	12  wrong password
//	14  -masterkey cannot be parsed
//	15  interrupted (SIGINT, SIGTERM; also a mount ended by one)
//	19  the FUSE mount itself failed
//	20  mount -ctlsock: the control socket could not be created
//	23  the config file is missing or unreadable
//	24  the config could not be written; -xchacha with -aessiv or -reverse;
//	    -scryptn out of range
//	26  fsck found problems (after -repair: problems remain)
//	27  the config fails validation (unknown feature flag, version, weak
//	    scrypt parameters, malformed JSON)
//	29  bad exclusions: -exclude-from unreadable, a path outside PLAINDIR,
//	    exclusions without -reverse
//	31  -fido2: fido2-cred or fido2-assert failed or printed no usable result
//
// and for vaults in S3 buckets (s3://BUCKET/PREFIX), sealfs' own:
//
//	40  the bucket does not exist
//	41  the endpoint refused the credentials or the access
//	42  the endpoint does not answer, or its URL is refused (plain http to
//	    a host that is not loopback without -s3-allow-http)
//	43  the write-back cache folder is in use by another process
package main
