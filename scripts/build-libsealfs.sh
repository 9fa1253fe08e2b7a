#!/usr/bin/env bash
# Builds the C library into DIR: libsealfs.so (or with -static libsealfs.a),
# the header cgo writes (libsealfs.h: libgocryptfs' gcf_* prototypes and the
# sealfs_* ones) and the documented sealfs.h it includes.
#
#   scripts/build-libsealfs.sh [-static] DIR
set -euo pipefail
cd "$(dirname "$0")/.."
mode=c-shared out=libsealfs.so
if [ "${1:-}" = -static ]; then mode=c-archive out=libsealfs.a; shift; fi
[ $# = 1 ] || { echo "usage: $0 [-static] DIR" >&2; exit 1; }
mkdir -p "$1"
CGO_ENABLED=1 go build -buildmode=$mode -o "$1/$out" ./cmd/libsealfs
cp cmd/libsealfs/sealfs.h "$1/"
echo "$1/$out $1/${out%.*}.h $1/sealfs.h"
