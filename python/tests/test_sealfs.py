"""Tests of the Python binding (ctypes over libsealfs.so). ./test.sh builds
the library, sets SEALFS_LIB and runs: python3 -m unittest discover -s python/tests"""

import errno
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sealfs  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GOLDEN = os.path.join(REPO, "testdata", "gocryptfs-2.3")


class VaultTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = os.path.join(self.tmp.name, "vault")
        os.mkdir(self.dir)
        self.v = sealfs.Volume.create(self.dir, "pw", scrypt_logn=10, creator="python test")

    def tearDown(self):
        self.v.close()
        self.tmp.cleanup()

    def test_text_and_binary(self):
        with self.v.open("notes.txt", "w") as f:
            f.write("first line\nsecond line\n")
        with self.v.open("notes.txt") as f:
            self.assertEqual(f.readline(), "first line\n")
            self.assertEqual(f.read(), "second line\n")
        data = os.urandom(300000)
        self.v.write_bytes("blob.bin", data)
        self.assertEqual(self.v.read_bytes("blob.bin"), data)
        with self.v.open("blob.bin", "rb") as f:
            f.seek(100000)
            self.assertEqual(f.read(10), data[100000:100010])
            f.seek(-5, io.SEEK_END)
            self.assertEqual(f.read(), data[-5:])
            self.assertEqual(f.tell(), len(data))

    def test_update_append_truncate(self):
        self.v.write_bytes("f", b"0123456789")
        with self.v.open("f", "r+b") as f:
            f.seek(3)
            f.write(b"abc")
            f.truncate(8)
        self.assertEqual(self.v.read_bytes("f"), b"012abc67")
        with self.v.open("f", "ab") as f:
            f.write(b"++")
        self.assertEqual(self.v.read_bytes("f"), b"012abc67++")
        with self.assertRaises(FileExistsError):
            self.v.open("f", "x")
        with self.v.open("new", "xb") as f:
            f.write(b"new")
        self.v.truncate("new", 1)
        self.assertEqual(self.v.read_bytes("new"), b"n")

    def test_tree(self):
        self.v.mkdir("d", 0o700)
        self.v.write_bytes("d/a", b"a", perm=0o600)
        self.v.symlink("a", "d/l")
        self.v.link("d/a", "d/h")
        self.assertEqual(self.v.listdir("d"), ["a", "h", "l"])
        self.assertEqual(self.v.listdir(), ["d"])
        self.assertEqual(self.v.readlink("d/l"), "a")
        st = self.v.stat("d/a")
        self.assertEqual((st.st_mode & 0o777, st.st_size, st.st_nlink), (0o600, 1, 2))
        self.assertTrue(self.v.lstat("d/l").st_mode & 0o170000 == 0o120000)
        self.v.utime("d/a", (1000, 2000))
        self.assertEqual(self.v.stat("d/a").st_mtime, 2000)
        self.v.chmod("d/a", 0o644)
        self.v.rename("d/a", "d/b")
        self.assertFalse(self.v.exists("d/a"))
        with self.assertRaises(OSError) as cm:
            self.v.rmdir("d")
        self.assertEqual(cm.exception.errno, errno.ENOTEMPTY)
        for n in ("b", "h", "l"):
            self.v.remove("d/" + n)
        self.v.rmdir("d")
        self.assertEqual(self.v.listdir(), [])

    def test_errors(self):
        with self.assertRaises(FileNotFoundError):
            self.v.open("missing")
        with self.assertRaises(FileNotFoundError):
            self.v.stat("missing/x")
        with self.assertRaises(FileExistsError):
            self.v.mkdir("x") or self.v.mkdir("x")
        with self.assertRaises(sealfs.WrongPassword):
            sealfs.Volume.unlock(self.dir, "wrong")
        with self.assertRaises(FileNotFoundError):
            sealfs.Volume.unlock(os.path.join(self.tmp.name, "nothing"), "pw")
        closed = sealfs.Volume.unlock(self.dir, "pw")
        closed.close()
        with self.assertRaises(ValueError):
            closed.listdir()

    def test_password_and_readonly(self):
        self.v.write_bytes("keep", b"kept")
        self.v.close()
        sealfs.change_password(self.dir, "pw", b"new pw")
        with self.assertRaises(sealfs.WrongPassword):
            sealfs.Volume.unlock(self.dir, "pw")
        with sealfs.Volume.unlock(self.dir, "new pw", readonly=True) as ro:
            self.assertEqual(ro.read_bytes("keep"), b"kept")
            with self.assertRaises(OSError) as cm:
                ro.mkdir("no")
            self.assertEqual(cm.exception.errno, errno.EROFS)
        self.v = sealfs.Volume.unlock(self.dir, "new pw")

    def test_threads(self):
        def work(i):
            data = bytes([i]) * 50000
            for r in range(10):
                self.v.write_bytes("t%d" % i, data)
                self.assertEqual(self.v.read_bytes("t%d" % i), data)
        ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(len(self.v.listdir()), 8)


class GoldenTest(unittest.TestCase):
    """A vault gocryptfs 2.3 made opens and reads as its manifest says."""

    def test_gocryptfs_vaults(self):
        for name in ("default", "aessiv", "plaintextnames", "deterministic-names"):
            with self.subTest(vault=name):
                base = os.path.join(GOLDEN, name)
                with open(os.path.join(base, "manifest.json")) as f:
                    manifest = json.load(f)
                with sealfs.Volume.unlock(os.path.join(base, "cipher"), "test", readonly=True) as v:
                    files = 0
                    for e in manifest:
                        if e["type"] == "file":
                            got = hashlib.sha256(v.read_bytes(e["path"])).hexdigest()
                            self.assertEqual(got, e["sha256"], e["path"])
                            files += 1
                        elif e["type"] == "dir":
                            self.assertTrue(v.stat(e["path"]).st_mode & 0o040000)
                    self.assertGreater(files, 0)


if __name__ == "__main__":
    unittest.main()
