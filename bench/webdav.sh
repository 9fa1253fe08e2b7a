#!/usr/bin/env bash
# Side-by-side benchmark of a vault served over WebDAV, in one run:
# "sealfs serve webdav" against "rclone serve webdav" of a gocryptfs mount,
# the way gocryptfs users share a vault over WebDAV today. Both serve the
# same vault (made by gocryptfs, on tmpfs), each into a directory of its
# own.
#
#   bench/webdav.sh [-quick] [-rounds N] [-only STEP,...] [-rclone-files]
#
# Two clients:
#  - rclone's WebDAV backend, mounted with "rclone mount --vfs-cache-mode
#    off" so that every file operation is a request (writes stream a PUT,
#    reads a GET): write (dd of 256 MiB, conv=fsync), read (cold). With
#    -rclone-files also untar (the Go toolchain's src), md5sum, ls -lR and
#    rm -rf through it; rclone 1.60 starts at most one request per 10 ms
#    (its pacer), which bounds both servers alike on these steps: about 35
#    ms per file, whatever the server.
#  - curl, the servers' own speed without rclone's: dav-write (a PUT of
#    256 MiB) and dav-read (its GET); and for the many small files without
#    that bound: dav-put (MKCOL of
#    every directory of the Go toolchain's src, then a PUT of every file,
#    4 at a time), dav-get (a GET of every file, 4 at a time), dav-propfind
#    (Depth 1 of every directory, 4 at a time), dav-delete (DELETE of the
#    tree: one request, the server removes it all).
#
# Ratio = peer time / sealfs time, so > 1.00 means sealfs is faster;
# medians over the rounds, each step on both back to back (alternating who
# goes first). "cpu" is the servers' CPU time: sealfs, and rclone serve
# plus gocryptfs. Needs root (drop_caches, mounts), fuse3, gocryptfs,
# rclone, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
rounds=3
only=
rclone_files=0
while [ $# -gt 0 ]; do
  case "$1" in
    -quick) quick=1 ;;
    -rounds) rounds=$2; shift ;;
    -only) only=$2; shift ;;
    -rclone-files) rclone_files=1 ;;
    *) echo "usage: $0 [-quick] [-rounds N] [-only STEP,...] [-rclone-files]" >&2; exit 1 ;;
  esac
  shift
done

. bench/lib.sh
bench_need gocryptfs fusermount3 rclone bc curl python3

bench_setup sealfs-davbench

stream_mb=256
[ $quick = 1 ] && stream_mb=64
bench_tarball

base=$work/tmpfs
mkdir -p "$base"
mount -t tmpfs -o size=6g tmpfs "$base"
mkdir -p "$base/cipher" "$base/plain" "$work/g.mnt" "$work/s.mnt"
gocryptfs -init -q -scryptn 10 -passfile "$pw" -- "$base/cipher" >/dev/null
gocryptfs -q -passfile "$pw" -- "$base/cipher" "$base/plain"
mounts+=("$base/plain")
mkdir "$base/plain/g" "$base/plain/s"

# stop_pid PID: ends a server started here and waits for it (with kill -0:
# bash's wait in an EXIT trap mixes up its function contexts).
stop_pid() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
}

# free_port: a free TCP port on loopback.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
gport=$(free_port)
rclone serve webdav "$base/plain/g" --addr "127.0.0.1:$gport" --log-file "$work/rclone-serve.log" &
rspid=$!
bench_at_exit+=("stop_pid $rspid")
"$bin" serve webdav -q -addr 127.0.0.1:0 -passfile "$pw" -prefix /s "$base/cipher" >"$work/sealfs.out" 2>"$work/sealfs.log" &
spid=$!
bench_at_exit+=("stop_pid $spid")
for i in $(seq 300); do grep -q http "$work/sealfs.out" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$gport/" && break; sleep 0.1; done
surl=$(grep -o 'http://[^ ]*' "$work/sealfs.out")
gpid=$(pgrep -f -- "gocryptfs .*$base/cipher" | head -1)

# Both clients: the same rclone options.
davmount() {
  rclone mount :webdav: "$2" --webdav-url "$1" --webdav-vendor owncloud --vfs-cache-mode off \
    --dir-cache-time 1s --config /dev/null --daemon --log-file "$work/rclone-$(basename "$2").log"
  mounts=("$2" "${mounts[@]}")
  for i in $(seq 100); do mountpoint -q "$2" && return 0; sleep 0.1; done
  echo "rclone mount of $1 did not come up" >&2; exit 1
}
davmount "http://127.0.0.1:$gport/" "$work/g.mnt"
davmount "$surl" "$work/s.mnt"

# The peer's CPU (cputime) is both processes'.
peer_pids="$rspid $gpid"

echo "sealfs: $("$bin" version)"
echo "gocryptfs: $(gocryptfs -version)"
echo "rclone: $(rclone version | head -1) (client of both; server of the peer)"

# The tree curl uploads, and curl configs (one transfer per url) for each
# step of each server: paths percent-encoded.
mkdir -p "$work/tree"
tar -C "$work/tree" -xf "$tarball"
davconfigs() { # PREFIX_URL NAME
  python3 - "$work/tree" "$1" "$work/curl-$2" <<'PY'
import os, sys, urllib.parse
tree, url, out = sys.argv[1:]
dirs, files = [], []
for root, ds, fs in os.walk(os.path.join(tree, "src")):
    rel = os.path.relpath(root, tree)
    dirs.append(rel)
    files += [os.path.join(rel, f) for f in fs]
q = lambda p: url + urllib.parse.quote(p)
def write(name, lines):
    with open(out + "." + name, "w") as f:
        f.write("".join(lines))
write("mkcol", [f'url = "{q(d)}/"\noutput = "/dev/null"\n' for d in dirs])
write("put", [f'url = "{q(p)}"\nupload-file = "{os.path.join(tree, p)}"\noutput = "/dev/null"\n' for p in files])
write("get", [f'url = "{q(p)}"\noutput = "/dev/null"\n' for p in files])
write("propfind", [f'url = "{q(d)}/"\noutput = "/dev/null"\n' for d in dirs])
PY
}
davconfigs "http://127.0.0.1:$gport/" g
davconfigs "$surl" s

# The curl steps (the mount steps are lib.sh's step).
eval "lib_$(declare -f step)"
step() {
  local name=$1 who=g url="http://127.0.0.1:$gport/" pid=$3 t c0
  case $name in dav-*) ;; *) lib_step "$@"; return ;; esac
  [ "$pid" = "$spid" ] && who=s url=$surl
  local cfg=$work/curl-$who
  sync
  c0=$(cputime "$pid"); t=$(now)
  case $name in
    dav-write*) curl -sSf --no-progress-meter -o /dev/null -T "$work/stream.bin" "${url}stream" || return 1 ;;
    dav-read*) dropcaches; c0=$(cputime "$pid"); t=$(now)
      curl -sSf --no-progress-meter -o /dev/null "${url}stream" && curl -sSf -o /dev/null -X DELETE "${url}stream" || return 1 ;;
    dav-put*) curl -sSf --no-progress-meter -X MKCOL -K "$cfg.mkcol" && curl -sSf -Z --parallel-max 4 -K "$cfg.put" || return 1 ;;
    dav-get*) curl -sSf --no-progress-meter -Z --parallel-max 4 -K "$cfg.get" || return 1 ;;
    dav-propfind*) curl -sSf --no-progress-meter -Z --parallel-max 4 -X PROPFIND -H "Depth: 1" -K "$cfg.propfind" || return 1 ;;
    dav-delete*) curl -sSf --no-progress-meter -o /dev/null -X DELETE "${url}src/" || return 1 ;;
  esac
  echo "$name $(elapsed "$t") $(echo "$(cputime "$pid") - $c0" | bc -l)"
}

all=("write_${stream_mb}MiB_fsync" "read_${stream_mb}MiB_cold")
[ $rclone_files = 1 ] && all+=("untar_${nfiles}_files" md5sum_all ls_-lR rm_-rf)
all+=("dav-write_${stream_mb}MiB" "dav-read_${stream_mb}MiB" "dav-put_${nfiles}_files" dav-get dav-propfind dav-delete)
head -c "${stream_mb}M" /dev/urandom >"$work/stream.bin"
steps=()
for st in "${all[@]}"; do selected "${st%%_*}" && steps+=("$st"); done
res=$work/res
bench_rounds "$work/g.mnt" "$rspid" "$work/s.mnt" "$spid"
printf '\nWebDAV: rclone mount, and curl for dav-* (median of %d round(s); cpu = CPU seconds of the servers; range = lowest and highest ratio of one round)\n' "$rounds"
printf '%-26s %16s %10s %7s %11s   %9s %9s\n' workload "rclone+gocryptfs" sealfs ratio range "peer cpu" "s cpu"
for st in "${steps[@]}"; do
  if ! grep -q "^g $st " "$res" || ! grep -q "^s $st " "$res"; then
    printf '%-26s   (failed: %s)\n' "$st" "$(grep -c " $st " "$res.failed" 2>/dev/null || echo 0) run(s)"
    continue
  fi
  gv=$(col g "$st" 3); sv=$(col s "$st" 3)
  printf '%-26s %15.2fs %9.2fs %7.2f %11s   %8.2fs %8.2fs\n' "$st" "$gv" "$sv" "$(echo "$gv / $sv" | bc -l)" \
    "$(ratio_range "$res" "$st")" "$(col g "$st" 4)" "$(col s "$st" 4)"
done
