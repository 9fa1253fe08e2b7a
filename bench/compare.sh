#!/usr/bin/env bash
# Side-by-side benchmark of sealfs and gocryptfs (Debian package) FUSE
# mounts on the same machine, in one run. Runs gocryptfs' canonical
# workload on each, alternating between the two, on tmpfs and on the disk,
# and prints each figure and the ratio.
#
#   bench/compare.sh [-quick] [-where tmpfs|disk|both] [-rounds N] [-cpus LIST]
#                    [-only STEP,...] [-iouring]
#
# -iouring serves the sealfs mount over FUSE-over-io_uring (Linux 6.14+),
# switching the fuse module's enable_uring parameter on for the run and
# back afterwards; gocryptfs (go-fuse) cannot use it and keeps /dev/fuse.
# Without -iouring sealfs is mounted with -noiouring, so that /dev/fuse
# serves both whatever the parameter says.
#
# -only runs only the named steps (write read untar md5sum ls rm randread
# randwrite) and those they need: md5sum, ls and rm need the tree that
# untar writes, and untar needs rm to clear it before the next round; read
# needs write's file, randwrite randread's.
#
# -cpus LIST runs everything (both servers and the workload) on those CPUs
# (taskset -c LIST). On one CPU the figures that wait on a round trip to
# the server for every request (ls -lR, rm -rf, random I/O at queue depth
# 1) measure the work each server does per request, without the cost of
# waking a sleeping CPU for every request and reply, which dominates them
# on small virtual machines and is the same for both servers.
#
# SEALFS_ENV="GOMAXPROCS=4 ..." sets environment variables for the sealfs
# mount only (to compare runtime settings against the same gocryptfs), and
# SEALFS_FLAGS="-gofusereaders ..." adds options to its mount command.
#
# Ratio = gocryptfs time / sealfs time (for throughputs: sealfs / gocryptfs),
# so > 1.00 means sealfs is faster; each step runs on both mounts back to
# back and the table shows medians over the rounds. Beside it, the CPU time
# each server process spent on the step (steadier than wall time on a busy
# machine; per I/O for the IOPS steps, which run for a fixed time). Needs
# root (drop_caches, mounts), fuse3, gocryptfs and fio (installed when
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
where=both
rounds=3
cpus=
only=
iouring=-noiouring
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    -quick) quick=1 ;;
    -where) where=$2; shift ;;
    -rounds) rounds=$2; shift ;;
    -cpus) cpus=$2; shift ;;
    -only) only=$2; shift ;;
    -iouring) iouring=-iouring ;;
    *) echo "usage: $0 [-quick] [-where tmpfs|disk|both] [-rounds N] [-cpus LIST] [-only STEP,...] [-iouring]" >&2; exit 1 ;;
  esac
  shift
done
if [ -n "$cpus" ] && [ -z "${SEALFS_BENCH_PINNED:-}" ]; then
  SEALFS_BENCH_PINNED=$cpus exec taskset -c "$cpus" "$0" "${args[@]}"
fi

. bench/lib.sh
bench_need gocryptfs fusermount3 fio bc

bench_setup sealfs-bench

stream_mb=512
[ $quick = 1 ] && stream_mb=128

bench_tarball



bench_on() {
  local base=$1 label=$2
  mkdir -p "$base/g.cipher" "$base/s.cipher" "$base/g.mnt" "$base/s.mnt"
  gocryptfs -init -q -scryptn 10 -passfile "$pw" -- "$base/g.cipher" >/dev/null
  "$bin" init -q -scryptn 10 -passfile "$pw" "$base/s.cipher" >/dev/null
  gocryptfs -q -passfile "$pw" -- "$base/g.cipher" "$base/g.mnt"; mounts+=("$base/g.mnt")
  env ${SEALFS_ENV:-} "$bin" mount $iouring ${SEALFS_FLAGS:-} -q -passfile "$pw" "$base/s.cipher" "$base/s.mnt"; mounts+=("$base/s.mnt")
  local gpid spid
  gpid=$(pgrep -f -- "gocryptfs .*$base/g.cipher" | head -1)
  spid=$(pgrep -f -- "sealfs mount .*$base/s.cipher .*-fg" | head -1)
  local all=("write_${stream_mb}MiB_fsync" "read_${stream_mb}MiB_cold" "untar_${nfiles}_files" md5sum_all ls_-lR rm_-rf randread_4k_qd1_iops randwrite_4k_qd1_iops)
  local steps=() st
  for st in "${all[@]}"; do selected "${st%%_*}" && steps+=("$st"); done
  local res=$work/res.$RANDOM
  # Every step runs on both mounts back to back (the order swapped each
  # round), so that a noisy neighbour hits both alike; the table shows medians.
  for ((r = 0; r < rounds; r++)); do
    for st in "${steps[@]}"; do
      if ((r % 2)); then
        step "$st" "$base/s.mnt" "$spid" | sed 's/^/s /' >>"$res"
        step "$st" "$base/g.mnt" "$gpid" | sed 's/^/g /' >>"$res"
      else
        step "$st" "$base/g.mnt" "$gpid" | sed 's/^/g /' >>"$res"
        step "$st" "$base/s.mnt" "$spid" | sed 's/^/s /' >>"$res"
      fi
    done
  done
  printf '\n%s (median of %d round(s); cpu = server CPU seconds, per I/O for IOPS; range = lowest and highest ratio of one round)\n' "$label" "$rounds"
  printf '%-26s %10s %10s %7s %11s   %9s %9s %7s\n' workload gocryptfs sealfs ratio range "g cpu" "s cpu" "ratio"
  for st in "${steps[@]}"; do
    local gv sv gc sc ratio cratio
    gv=$(awk -v k="$st" '$1 == "g" && $2 == k {print $3}' "$res" | median)
    sv=$(awk -v k="$st" '$1 == "s" && $2 == k {print $3}' "$res" | median)
    gc=$(awk -v k="$st" '$1 == "g" && $2 == k {print $4}' "$res" | median)
    sc=$(awk -v k="$st" '$1 == "s" && $2 == k {print $4}' "$res" | median)
    cratio=$(echo "$gc / ($sc + 0.001)" | bc -l)
    case $st in
      *iops) ratio=$(echo "$sv / $gv" | bc -l); printf '%-26s %10.0f %10.0f %7.2f %11s   %7.1fus %7.1fus %7.2f\n' "$st" "$gv" "$sv" "$ratio" "$(ratio_range "$res" "$st")" "$gc" "$sc" "$cratio" ;;
      *) ratio=$(echo "$gv / $sv" | bc -l); printf '%-26s %9.2fs %9.2fs %7.2f %11s   %8.2fs %8.2fs %7.2f\n' "$st" "$gv" "$sv" "$ratio" "$(ratio_range "$res" "$st")" "$gc" "$sc" "$cratio" ;;
    esac
  done
  fusermount3 -u "$base/g.mnt"; fusermount3 -u "$base/s.mnt"
}

[ -n "$cpus" ] && echo "pinned to CPU(s) $cpus (taskset -c $cpus)"
if [ "$iouring" = -iouring ]; then
  uring_param=/sys/module/fuse/parameters/enable_uring
  [ -w $uring_param ] || { echo "-iouring: this kernel has no $uring_param (FUSE-over-io_uring needs Linux 6.14+)" >&2; exit 1; }
  uring_was=$(cat $uring_param)
  echo Y >$uring_param
  bench_at_exit+=("echo $uring_was >$uring_param")
  echo "sealfs mounts with -iouring (FUSE over io_uring; enable_uring was $uring_was)"
fi
echo "sealfs: $("$bin" version)"
echo "gocryptfs: $(gocryptfs -version)"
echo "ratio = gocryptfs time / sealfs time (IOPS: sealfs / gocryptfs); > 1 means sealfs is faster"
echo "cpu ratio = gocryptfs server CPU / sealfs server CPU; > 1 means sealfs used less CPU"
if [ "$where" = tmpfs ] || [ "$where" = both ]; then
  mkdir -p "$work/tmpfs"
  mount -t tmpfs -o size=6g tmpfs "$work/tmpfs"
  bench_on "$work/tmpfs" "on tmpfs"
fi
if [ "$where" = disk ] || [ "$where" = both ]; then
  mkdir -p "$work/disk"
  bench_on "$work/disk" "on disk ($(df --output=fstype "$work" | tail -1))"
fi
