//go:build linux

package fusefs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The mount is made by sealfs, not by go-fuse, so that sealfs holds the
// connection's /dev/fuse descriptor from the start (its own readers and
// the io_uring queues need it, and go-fuse keeps its own private). This
// is the documented route for a server that gets its descriptor from
// elsewhere: fusermount3, the setuid helper of libfuse, opens /dev/fuse,
// mounts it, and passes the descriptor back over a socket named in the
// _FUSE_COMMFD environment variable (SCM_RIGHTS); go-fuse then serves a
// descriptor given as the mount point "/dev/fd/N". fusermount3 is used
// for root too, so that every mount takes the same path (and fusermount3
// keeps /etc/mtab and its mount-option rules).

// fusermountBinary finds fusermount3 (or fusermount where there is no
// fusermount3).
func fusermountBinary() (string, error) {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/bin", "/usr/bin", "/sbin", "/usr/sbin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	return "", errors.New("fusermount3 not found (apt-get install fuse3)")
}

// escapeOption escapes the separators of a fusermount -o list.
func escapeOption(s string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(s)
}

// fusermountOptions is the -o list for fusermount3: the mount options,
// the FUSE ones go-fuse would pass for mo.
func fusermountOptions(mo *fuse.MountOptions) string {
	opts := append([]string{}, mo.Options...)
	if mo.AllowOther {
		opts = append(opts, "allow_other")
	}
	if mo.FsName != "" {
		opts = append(opts, "fsname="+mo.FsName)
	}
	if mo.Name != "" {
		opts = append(opts, "subtype="+mo.Name)
	}
	maxRead := mo.MaxWrite
	if maxRead <= 0 {
		maxRead = 128 << 10 // go-fuse's default max_write
	}
	opts = append(opts, "max_read="+strconv.Itoa(maxRead))
	for i, o := range opts {
		opts[i] = escapeOption(o)
	}
	return strings.Join(opts, ",")
}

// mountDevFuse mounts a new FUSE connection on dir (an absolute path)
// through fusermount3 and returns its /dev/fuse descriptor (close on
// exec).
func mountDevFuse(dir string, mo *fuse.MountOptions) (int, error) {
	bin, err := fusermountBinary()
	if err != nil {
		return -1, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socketpair", err)
	}
	local := os.NewFile(uintptr(pair[0]), "fusermount socket")
	remote := os.NewFile(uintptr(pair[1]), "fusermount socket (helper side)")
	defer local.Close()
	cmd := exec.Command(bin, "-o", fusermountOptions(mo), "--", dir)
	cmd.ExtraFiles = []*os.File{remote} // descriptor 3 in the helper
	cmd.Env = []string{"_FUSE_COMMFD=3"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	remote.Close()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return -1, fmt.Errorf("mount %s: %s", dir, msg)
	}
	fd, err := receiveFd(int(local.Fd()))
	if err != nil {
		// Mounted, but the descriptor is lost: do not leave a dead mount.
		unmountDir(dir)
		return -1, fmt.Errorf("mount %s: receiving the /dev/fuse descriptor from fusermount3: %w", dir, err)
	}
	return fd, nil
}

// receiveFd receives one descriptor sent with SCM_RIGHTS on sock.
func receiveFd(sock int) (int, error) {
	buf := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return -1, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, extra := range fds[1:] {
			unix.Close(extra)
		}
		if len(fds) > 0 {
			return fds[0], nil
		}
	}
	return -1, errors.New("no descriptor in the message")
}

// devFdMountPoint is how go-fuse is told to serve descriptor fd.
func devFdMountPoint(fd int) string { return "/dev/fd/" + strconv.Itoa(fd) }

// unmountDir unmounts the FUSE mount on dir with fusermount3 -u. While
// the kernel still counts the last files as open, it reports EBUSY for a
// moment: that is retried a few times.
func unmountDir(dir string) error {
	bin, err := fusermountBinary()
	if err != nil {
		return err
	}
	delay := 5 * time.Millisecond
	for try := 0; ; try++ {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "-u", "--", dir)
		cmd.Stderr = &stderr
		err = cmd.Run()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(stderr.String())
		if try == 4 || !strings.Contains(msg, "busy") {
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("unmount %s: %s", dir, msg)
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// pollHack makes the kernel ask the new mount once whether it supports
// POLL, which the server answers with ENOSYS, so that the kernel never
// asks again: otherwise the Go runtime's netpoller, registering a file of
// the mount that this process opens, could wait for a POLL reply that no
// free thread is left to give. go-fuse does this itself only for mounts
// it made; the serving side (transport, go-fuse) answers the name.
func pollHack(dir string) {
	fd, err := unix.Open(filepath.Join(dir, ".go-fuse-epoll-hack"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT}}
	unix.Poll(pfd, 0)
	unix.Close(fd)
}
