"""sealfs for Python: gocryptfs-compatible vaults through libsealfs (ctypes).

Build the library first (scripts/build-libsealfs.sh DIR) and point
SEALFS_LIB at DIR/libsealfs.so, or put libsealfs.so where the dynamic
loader finds it.

    import sealfs
    with sealfs.Volume.unlock("/data/vault", b"password") as v:
        with v.open("notes/todo.txt", "w") as f:
            f.write("buy milk\\n")
        print(v.listdir("notes"))

Errors are OSError subclasses with errno set (FileNotFoundError,
FileExistsError, PermissionError, ...), WrongPassword, CorruptError and
ConfigError.
"""

import ctypes
import ctypes.util
import errno as _errno
import io
import os

__all__ = ["Volume", "File", "Error", "WrongPassword", "CorruptError", "ConfigError",
           "AES_GCM", "AES_SIV", "XCHACHA", "change_password"]

AES_GCM, AES_SIV, XCHACHA = 0, 1, 2
_EPASSWORD, _ECORRUPT, _ECONFIG = -10001, -10002, -10003
_RDONLY = 1


class Error(OSError):
    """An error of libsealfs."""


class WrongPassword(Error):
    """The password or master key does not unlock the vault."""


class CorruptError(Error):
    """Ciphertext failed authentication: tampered or damaged data."""


class ConfigError(Error):
    """The config file is invalid."""


class _CreateOpts(ctypes.Structure):
    _fields_ = [("cipher", ctypes.c_int), ("plaintext_names", ctypes.c_int),
                ("deterministic_names", ctypes.c_int), ("longnamemax", ctypes.c_int),
                ("scrypt_logn", ctypes.c_int), ("creator", ctypes.c_char_p),
                ("config_path", ctypes.c_char_p)]


class _Stat(ctypes.Structure):
    _fields_ = [("dev", ctypes.c_uint64), ("ino", ctypes.c_uint64), ("nlink", ctypes.c_uint64),
                ("mode", ctypes.c_uint32), ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32),
                ("rdev", ctypes.c_uint64), ("size", ctypes.c_int64), ("blocks", ctypes.c_int64),
                ("atime_sec", ctypes.c_int64), ("atime_nsec", ctypes.c_int64),
                ("mtime_sec", ctypes.c_int64), ("mtime_nsec", ctypes.c_int64),
                ("ctime_sec", ctypes.c_int64), ("ctime_nsec", ctypes.c_int64)]


def _load():
    path = os.environ.get("SEALFS_LIB")
    if not path:
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libsealfs.so")
        path = here if os.path.exists(here) else ctypes.util.find_library("sealfs")
    if not path:
        raise ImportError("libsealfs.so not found: build it with scripts/build-libsealfs.sh and set SEALFS_LIB")
    lib = ctypes.CDLL(path)
    i64, cp, sz, u32 = ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32
    sigs = {
        "sealfs_strerror": ([i64], cp),
        "sealfs_create": ([cp, ctypes.c_void_p, sz, ctypes.POINTER(_CreateOpts)], i64),
        "sealfs_open": ([cp, ctypes.c_void_p, sz, cp, ctypes.c_int], i64),
        "sealfs_open_masterkey": ([cp, cp, cp, ctypes.c_int], i64),
        "sealfs_close": ([i64], i64),
        "sealfs_change_password": ([cp, cp, ctypes.c_void_p, sz, ctypes.c_void_p, sz], i64),
        "sealfs_file_open": ([i64, cp, ctypes.c_int, u32], i64),
        "sealfs_pread": ([i64, i64, ctypes.c_void_p, sz, i64], i64),
        "sealfs_pwrite": ([i64, i64, ctypes.c_void_p, sz, i64], i64),
        "sealfs_ftruncate": ([i64, i64, i64], i64),
        "sealfs_fsync": ([i64, i64], i64),
        "sealfs_fstat": ([i64, i64, ctypes.POINTER(_Stat)], i64),
        "sealfs_file_close": ([i64, i64], i64),
        "sealfs_opendir": ([i64, cp], i64),
        "sealfs_readdir": ([i64, i64, ctypes.c_char_p, sz, ctypes.POINTER(u32)], i64),
        "sealfs_closedir": ([i64, i64], i64),
        "sealfs_stat": ([i64, cp, ctypes.POINTER(_Stat)], i64),
        "sealfs_lstat": ([i64, cp, ctypes.POINTER(_Stat)], i64),
        "sealfs_mkdir": ([i64, cp, u32], i64),
        "sealfs_rmdir": ([i64, cp], i64),
        "sealfs_unlink": ([i64, cp], i64),
        "sealfs_rename": ([i64, cp, cp, ctypes.c_uint], i64),
        "sealfs_symlink": ([i64, cp, cp], i64),
        "sealfs_readlink": ([i64, cp, ctypes.c_char_p, sz], i64),
        "sealfs_link": ([i64, cp, cp], i64),
        "sealfs_chmod": ([i64, cp, u32], i64),
        "sealfs_utimens": ([i64, cp, i64, i64], i64),
        "sealfs_truncate": ([i64, cp, i64], i64),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


_lib = _load()


def _check(r, path=None):
    """Raises the exception of a negative result; returns r otherwise."""
    if r >= 0:
        return r
    msg = _lib.sealfs_strerror(r).decode()
    if r == _EPASSWORD:
        raise WrongPassword(_errno.EACCES, msg)
    if r == _ECORRUPT:
        raise CorruptError(_errno.EIO, msg, path)
    if r == _ECONFIG:
        raise ConfigError(_errno.EINVAL, msg, path)
    # OSError picks the subclass from the errno (FileNotFoundError, ...).
    raise OSError(-r, msg, path)


def _b(s):
    return os.fsencode(s) if s is not None else None


def _secret(password):
    """A ctypes copy of a password, which the library wipes."""
    if isinstance(password, str):
        password = password.encode()
    buf = ctypes.create_string_buffer(bytes(password), len(password))
    return buf, len(password)


def change_password(directory, old, new, config_path=None):
    """Re-wraps the vault's master key with a new password."""
    ob, on = _secret(old)
    nb, nn = _secret(new)
    _check(_lib.sealfs_change_password(_b(directory), _b(config_path), ob, on, nb, nn), directory)


class Volume:
    """An unlocked vault. Use Volume.unlock or Volume.create; close it (or use
    it as a context manager) to wipe its keys."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def create(cls, directory, password, cipher=AES_GCM, plaintext_names=False,
               deterministic_names=False, longnamemax=0, scrypt_logn=0, creator=None, config_path=None):
        """Makes a new vault in the empty directory and returns it open."""
        o = _CreateOpts(cipher, int(plaintext_names), int(deterministic_names), longnamemax,
                        scrypt_logn, _b(creator), _b(config_path))
        buf, n = _secret(password)
        return cls(_check(_lib.sealfs_create(_b(directory), buf, n, ctypes.byref(o)), directory))

    @classmethod
    def unlock(cls, directory, password, config_path=None, readonly=False):
        """Unlocks the vault in directory with its password."""
        buf, n = _secret(password)
        flags = _RDONLY if readonly else 0
        return cls(_check(_lib.sealfs_open(_b(directory), buf, n, _b(config_path), flags), directory))

    @classmethod
    def unlock_masterkey(cls, directory, masterkey, config_path=None, readonly=False):
        """Unlocks the vault with its master key (hex, dashes allowed)."""
        flags = _RDONLY if readonly else 0
        return cls(_check(_lib.sealfs_open_masterkey(_b(directory), _b(masterkey), _b(config_path), flags), directory))

    def close(self):
        if self._h is not None:
            _check(_lib.sealfs_close(self._h))
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _vol(self):
        if self._h is None:
            raise ValueError("the volume is closed")
        return self._h

    def open(self, path, mode="r", buffering=-1, encoding=None, errors=None, newline=None, perm=0o644):
        """Opens a file like the built-in open: modes r, w, a, x, with + and
        b; text mode wraps it in io.TextIOWrapper."""
        plus, binary = "+" in mode, "b" in mode
        base = mode.replace("b", "").replace("+", "").replace("t", "")
        flags = {"r": os.O_RDONLY, "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL}[base]
        if plus:
            flags = (flags & ~os.O_WRONLY) | os.O_RDWR
        raw = File(self, path, flags, perm, mode)
        if buffering == 0:
            if not binary:
                raise ValueError("can't have unbuffered text I/O")
            return raw
        size = io.DEFAULT_BUFFER_SIZE if buffering < 0 else buffering
        if plus:
            buf = io.BufferedRandom(raw, size)
        elif base == "r":
            buf = io.BufferedReader(raw, size)
        else:
            buf = io.BufferedWriter(raw, size)
        if binary:
            return buf
        return io.TextIOWrapper(buf, encoding or "utf-8", errors, newline)

    def stat(self, path, follow_symlinks=True):
        """Returns an os.stat_result of a path in the vault."""
        st = _Stat()
        fn = _lib.sealfs_stat if follow_symlinks else _lib.sealfs_lstat
        _check(fn(self._vol(), _b(path), ctypes.byref(st)), path)
        return _stat_result(st)

    def lstat(self, path):
        return self.stat(path, follow_symlinks=False)

    def exists(self, path):
        try:
            self.lstat(path)
            return True
        except FileNotFoundError:
            return False

    def listdir(self, path="."):
        """Returns the names in a directory, sorted."""
        d = _check(_lib.sealfs_opendir(self._vol(), _b(path)), path)
        names, name, typ = [], ctypes.create_string_buffer(1024), ctypes.c_uint32()
        try:
            while _check(_lib.sealfs_readdir(self._h, d, name, len(name), ctypes.byref(typ)), path) == 1:
                names.append(os.fsdecode(name.value))
        finally:
            _lib.sealfs_closedir(self._h, d)
        return sorted(names)

    def mkdir(self, path, mode=0o755):
        _check(_lib.sealfs_mkdir(self._vol(), _b(path), mode), path)

    def rmdir(self, path):
        _check(_lib.sealfs_rmdir(self._vol(), _b(path)), path)

    def remove(self, path):
        _check(_lib.sealfs_unlink(self._vol(), _b(path)), path)

    unlink = remove

    def rename(self, src, dst, flags=0):
        _check(_lib.sealfs_rename(self._vol(), _b(src), _b(dst), flags), src)

    def symlink(self, target, path):
        _check(_lib.sealfs_symlink(self._vol(), _b(target), _b(path)), path)

    def readlink(self, path):
        buf = ctypes.create_string_buffer(4096)
        n = _check(_lib.sealfs_readlink(self._vol(), _b(path), buf, len(buf)), path)
        return os.fsdecode(buf.raw[:n])

    def link(self, src, dst):
        _check(_lib.sealfs_link(self._vol(), _b(src), _b(dst)), src)

    def chmod(self, path, mode):
        _check(_lib.sealfs_chmod(self._vol(), _b(path), mode), path)

    def utime(self, path, times=None, ns=None):
        """Sets access and modification times (seconds, or ns=(a, m))."""
        if ns is None:
            ns = (-1, -1) if times is None else (int(times[0] * 1e9), int(times[1] * 1e9))
        _check(_lib.sealfs_utimens(self._vol(), _b(path), ns[0], ns[1]), path)

    def truncate(self, path, size):
        _check(_lib.sealfs_truncate(self._vol(), _b(path), size), path)

    def read_bytes(self, path):
        with self.open(path, "rb") as f:
            return f.read()

    def write_bytes(self, path, data, perm=0o644):
        with self.open(path, "wb", perm=perm) as f:
            f.write(data)


def _stat_result(st):
    return os.stat_result((st.mode, st.ino, st.dev, st.nlink, st.uid, st.gid, st.size,
                           st.atime_sec, st.mtime_sec, st.ctime_sec,
                           st.atime_sec + st.atime_nsec / 1e9, st.mtime_sec + st.mtime_nsec / 1e9,
                           st.ctime_sec + st.ctime_nsec / 1e9,
                           st.atime_sec * 10**9 + st.atime_nsec, st.mtime_sec * 10**9 + st.mtime_nsec,
                           st.ctime_sec * 10**9 + st.ctime_nsec))


class File(io.RawIOBase):
    """A file in a vault as a raw binary stream (readinto, write, seek);
    Volume.open wraps it in io's buffered and text layers."""

    def __init__(self, volume, path, flags, perm=0o644, mode="rb"):
        super().__init__()
        self._vol = volume
        self.name, self.mode = path, mode
        self._flags = flags
        self._h = _check(_lib.sealfs_file_open(volume._vol(), _b(path), flags, perm), path)
        self._pos = 0
        if flags & os.O_APPEND:
            self._pos = self._size()

    def _size(self):
        st = _Stat()
        _check(_lib.sealfs_fstat(self._vol._vol(), self._h, ctypes.byref(st)), self.name)
        return st.size

    def readable(self):
        return self._flags & os.O_ACCMODE != os.O_WRONLY

    def writable(self):
        return self._flags & os.O_ACCMODE != os.O_RDONLY

    def seekable(self):
        return True

    def readinto(self, b):
        self._checkClosed()
        m = memoryview(b).cast("B")
        buf = (ctypes.c_char * len(m)).from_buffer(m)
        n = _check(_lib.sealfs_pread(self._vol._vol(), self._h, buf, len(m), self._pos), self.name)
        self._pos += n
        return n

    def write(self, b):
        self._checkClosed()
        m = memoryview(b).cast("B")
        data = bytes(m) if m.readonly else (ctypes.c_char * len(m)).from_buffer(m)
        n = _check(_lib.sealfs_pwrite(self._vol._vol(), self._h, data, len(m), self._pos), self.name)
        self._pos = self._size() if self._flags & os.O_APPEND else self._pos + n
        return n

    def seek(self, offset, whence=io.SEEK_SET):
        self._checkClosed()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size() + offset
        else:
            raise ValueError("invalid whence")
        if pos < 0:
            raise OSError(_errno.EINVAL, "negative seek position")
        self._pos = pos
        return pos

    def tell(self):
        return self._pos

    def truncate(self, size=None):
        self._checkClosed()
        size = self._pos if size is None else size
        _check(_lib.sealfs_ftruncate(self._vol._vol(), self._h, size), self.name)
        return size

    def flush(self):
        pass

    def fsync(self):
        _check(_lib.sealfs_fsync(self._vol._vol(), self._h), self.name)

    def close(self):
        if not self.closed:
            try:
                if self._vol._h is not None:
                    _lib.sealfs_file_close(self._vol._h, self._h)
            finally:
                super().close()
