#!/usr/bin/env bash
# Runs gocryptfs' own black-box test suite (its tests/ packages, which
# drive the binary at the top of its checkout) against the sealfs binary
# built from this checkout, as root, and prints each failing test and a
# count. With -peer it runs the same suite against the gocryptfs binary
# built from that checkout too, in the same run.
#
#   scripts/gocryptfs-tests.sh -src DIR [-peer] [PACKAGE...]
#
# DIR is a checkout of gocryptfs (github.com/rfjakob/gocryptfs; not part
# of this repository: CI cannot fetch it). PACKAGE defaults to ./tests/...
# (relative to DIR). The checkout's ./gocryptfs is replaced for the run
# and restored afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)

src= peer=
pkgs=()
while [ $# -gt 0 ]; do
  case $1 in
    -src) src=$2; shift 2 ;;
    -peer) peer=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) pkgs+=("$1"); shift ;;
  esac
done
[ -n "$src" ] || { echo "gocryptfs-tests.sh: -src DIR (a gocryptfs checkout) is required" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "gocryptfs-tests.sh: run as root (the suite's root tests switch users)" >&2; exit 2; }
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./tests/...)
src=$(cd "$src" && pwd)

work=$(mktemp -d /var/tmp/gocryptfs-tests.XXXXXX)
saved=
cleanup() {
  if [ -n "$saved" ]; then mv -f "$saved" "$src/gocryptfs"; elif [ -e "$src/gocryptfs" ]; then rm -f "$src/gocryptfs"; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ -e "$src/gocryptfs" ]; then saved=$work/gocryptfs.saved; mv "$src/gocryptfs" "$saved"; fi

go build -o "$work/sealfs" ./cmd/sealfs
if [ -n "$peer" ]; then
  (cd "$src" && go build -tags without_openssl -o "$work/gocryptfs" .)
fi

# run NAME BINARY: the suite against BINARY, one package at a time (the
# packages share mount directories); the log goes to $work/NAME.log.
run() {
  local name=$1 bin=$2
  cp "$bin" "$src/gocryptfs"
  (cd "$src" && timeout 1800 go test -tags without_openssl -count=1 -p 1 "${pkgs[@]}" >"$work/$name.log" 2>&1) || true
  echo "== $name"
  grep -E '^(--- FAIL|FAIL|ok|panic:)' "$work/$name.log" || true
  echo "$name: $(grep -c '^--- FAIL' "$work/$name.log" || true) failing tests, $(grep -c '^panic:' "$work/$name.log" || true) panics"
  cp "$work/$name.log" "/var/tmp/gocryptfs-tests-$name.log"
}

run sealfs "$work/sealfs"
[ -n "$peer" ] && run gocryptfs "$work/gocryptfs"
echo "(full logs: /var/tmp/gocryptfs-tests-*.log)"
