#!/usr/bin/env bash
# Side-by-side benchmark of sealfs and gocryptfs (Debian package) FUSE
# mounts on the same machine, in one run. Runs gocryptfs' canonical
# workload on each, alternating between the two, on tmpfs and on the disk,
# and prints each figure and the ratio.
#
#   bench/compare.sh [-quick] [-where tmpfs|disk|both] [-rounds N]
#
# Ratio = gocryptfs time / sealfs time (for throughputs: sealfs / gocryptfs),
# so > 1.00 means sealfs is faster. Needs root (drop_caches, mounts), fuse3,
# gocryptfs and fio (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
where=both
rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    -quick) quick=1 ;;
    -where) where=$2; shift ;;
    -rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [-quick] [-where tmpfs|disk|both] [-rounds N]" >&2; exit 1 ;;
  esac
  shift
done

need=()
for c in gocryptfs fusermount3 fio; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
  pkgs=()
  for c in "${need[@]}"; do case $c in fusermount3) pkgs+=(fuse3) ;; *) pkgs+=("$c") ;; esac; done
  apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

work=$(mktemp -d /var/tmp/sealfs-bench.XXXXXX)
bin=$work/sealfs
go build -o "$bin" ./cmd/sealfs
pw=$work/pw
echo benchpassword >"$pw"

stream_mb=512
[ $quick = 1 ] && stream_mb=128

# The tarball: the Go toolchain's src (about 11,000 files when complete).
tarball=$work/gosrc.tar
tar -C "$(go env GOROOT)" -cf "$tarball" src
nfiles=$(tar -tf "$tarball" | grep -vc '/$')

mounts=()
cleanup() {
  for m in "${mounts[@]}"; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || true; done
  mountpoint -q "$work/tmpfs" 2>/dev/null && umount "$work/tmpfs"
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
dropcaches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# run_workload MNT -> prints "name seconds" lines
run_workload() {
  local m=$1 t
  t=$(now); dd if=/dev/zero of="$m/stream" bs=1M count=$stream_mb conv=fsync status=none; echo "write_${stream_mb}MiB_fsync $(elapsed "$t")"
  dropcaches
  t=$(now); dd if="$m/stream" of=/dev/null bs=1M status=none; echo "read_${stream_mb}MiB_cold $(elapsed "$t")"
  rm -f "$m/stream"
  dropcaches
  t=$(now); tar -C "$m" -xf "$tarball"; sync; echo "untar_${nfiles}_files $(elapsed "$t")"
  dropcaches
  t=$(now); (cd "$m" && find src -type f -print0 | xargs -0 md5sum >/dev/null); echo "md5sum_all $(elapsed "$t")"
  dropcaches
  t=$(now); ls -lR "$m/src" >/dev/null; echo "ls_-lR $(elapsed "$t")"
  t=$(now); rm -rf "$m/src"; echo "rm_-rf $(elapsed "$t")"
  local fiosize=256M; [ $quick = 1 ] && fiosize=64M
  local rt=10; [ $quick = 1 ] && rt=4
  fio --name=prep --directory="$m" --filename=fio.dat --size=$fiosize --rw=write --bs=1M --end_fsync=1 >/dev/null
  dropcaches
  local iops
  iops=$(fio --name=rr --directory="$m" --filename=fio.dat --size=$fiosize --rw=randread --bs=4k --iodepth=1 --runtime=$rt --time_based --output-format=terse --terse-version=3 | awk -F';' '{print $8}')
  echo "randread_4k_qd1_iops $iops"
  iops=$(fio --name=rw --directory="$m" --filename=fio.dat --size=$fiosize --rw=randwrite --bs=4k --iodepth=1 --runtime=$rt --time_based --output-format=terse --terse-version=3 | awk -F';' '{print $49}')
  echo "randwrite_4k_qd1_iops $iops"
  rm -f "$m/fio.dat"
}

bench_on() {
  local base=$1 label=$2
  mkdir -p "$base/g.cipher" "$base/s.cipher" "$base/g.mnt" "$base/s.mnt"
  gocryptfs -init -q -scryptn 10 -passfile "$pw" -- "$base/g.cipher" >/dev/null
  "$bin" init -q -scryptn 10 -passfile "$pw" "$base/s.cipher" >/dev/null
  gocryptfs -q -passfile "$pw" -- "$base/g.cipher" "$base/g.mnt"; mounts+=("$base/g.mnt")
  "$bin" mount -q -passfile "$pw" "$base/s.cipher" "$base/s.mnt"; mounts+=("$base/s.mnt")
  declare -A g s
  for ((r = 0; r < rounds; r++)); do
    while read -r k v; do g[$k]=$(echo "${g[$k]:-0} + $v" | bc -l); done < <(run_workload "$base/g.mnt")
    while read -r k v; do s[$k]=$(echo "${s[$k]:-0} + $v" | bc -l); done < <(run_workload "$base/s.mnt")
  done
  printf '\n%s (%d round(s))\n' "$label" "$rounds"
  printf '%-28s %12s %12s %8s\n' workload gocryptfs sealfs ratio
  for k in "write_${stream_mb}MiB_fsync" "read_${stream_mb}MiB_cold" "untar_${nfiles}_files" md5sum_all ls_-lR rm_-rf randread_4k_qd1_iops randwrite_4k_qd1_iops; do
    local gv sv ratio
    gv=$(echo "${g[$k]} / $rounds" | bc -l); sv=$(echo "${s[$k]} / $rounds" | bc -l)
    case $k in
      *iops) ratio=$(echo "$sv / $gv" | bc -l); printf '%-28s %12.0f %12.0f %8.2f\n' "$k" "$gv" "$sv" "$ratio" ;;
      *) ratio=$(echo "$gv / $sv" | bc -l); printf '%-28s %11.2fs %11.2fs %8.2f\n' "$k" "$gv" "$sv" "$ratio" ;;
    esac
  done
  fusermount3 -u "$base/g.mnt"; fusermount3 -u "$base/s.mnt"
}

echo "sealfs: $("$bin" version)"
echo "gocryptfs: $(gocryptfs -version)"
echo "ratio = gocryptfs time / sealfs time (IOPS: sealfs / gocryptfs); > 1 means sealfs is faster"
if [ "$where" = tmpfs ] || [ "$where" = both ]; then
  mkdir -p "$work/tmpfs"
  mount -t tmpfs -o size=6g tmpfs "$work/tmpfs"
  bench_on "$work/tmpfs" "on tmpfs"
fi
if [ "$where" = disk ] || [ "$where" = both ]; then
  mkdir -p "$work/disk"
  bench_on "$work/disk" "on disk ($(df --output=fstype "$work" | tail -1))"
fi
