#!/usr/bin/env bash
# Runs pjdfstest (https://github.com/pjd/pjdfstest) against a sealfs mount
# and, with -peer, against a gocryptfs mount of its own in the same run, as
# root with -allow_other, the way pjdfstest is meant to be run. Prints the
# failing checks of each and a summary line per file system.
#
#   scripts/pjdfstest.sh -src DIR [-peer] [-where tmpfs|disk] [TESTS...]
#
# DIR is a checkout of pjdfstest (not part of this repository: CI cannot
# fetch it); it is built there with autotools if pjdfstest is missing.
# TESTS are directories or files under DIR/tests (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

src= peer= where=disk
tests=()
while [ $# -gt 0 ]; do
  case $1 in
    -src) src=$2; shift 2 ;;
    -peer) peer=1; shift ;;
    -where) where=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) tests+=("$1"); shift ;;
  esac
done
[ -n "$src" ] || { echo "pjdfstest.sh: -src DIR (a pjdfstest checkout) is required" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "pjdfstest.sh: run as root (pjdfstest switches users)" >&2; exit 2; }
src=$(cd "$src" && pwd)
bench_need fusermount3 prove autoreconf make gcc
[ -n "$peer" ] && bench_need gocryptfs
if [ ! -x "$src/pjdfstest" ]; then
  (cd "$src" && autoreconf -ifs >/dev/null && ./configure -q && make -s pjdfstest)
fi
[ ${#tests[@]} -gt 0 ] || tests=("$src/tests")

bench_setup pjdfstest
base=$work
if [ "$where" = tmpfs ]; then
  mkdir "$work/tmpfs"; mount -t tmpfs -o size=2g tmpfs "$work/tmpfs"; base=$work/tmpfs
fi

# run NAME INIT MOUNT...: makes a vault with INIT, mounts it and runs prove
# inside the mount; the failing checks go to $work/NAME.out.
run() {
  local name=$1 init=$2; shift 2
  local c=$base/$name.cipher m=$work/$name.mnt
  mkdir -p "$c" "$m"
  $init -q -scryptn 10 -passfile "$pw" "$c" >/dev/null
  "$@" -q -allow_other -passfile "$pw" "$c" "$m"
  mounts+=("$m")
  # pjdfstest must be run from inside the file system under test.
  (cd "$m" && prove -r "${tests[@]}" >"$work/$name.out" 2>&1) || true
  fusermount3 -u "$m" || fusermount3 -u -z "$m"
  echo "== $name"
  grep -E '^(Failed test|Failed tests:|  Failed tests:|/.*\(Wstat|Files=|Result:)' "$work/$name.out" || true
  sed -n '/^Test Summary Report/,$p' "$work/$name.out"
}

run sealfs "$bin -init" "$bin"
[ -n "$peer" ] && run gocryptfs "gocryptfs -init" gocryptfs
exit 0
