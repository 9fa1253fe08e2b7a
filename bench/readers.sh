#!/usr/bin/env bash
# Three mounts side by side, on the same filesystem: gocryptfs (g), sealfs
# with its own /dev/fuse reader, the default (s), and sealfs with go-fuse's
# reader threads, -gofusereaders (o). Each round runs the step on the three
# in turn, so that a noisy machine hits them alike; the sums over the rounds
# give the ratios.
#
#   bench/readers.sh [-where tmpfs|disk] [-rounds N] [-step randread|randwrite|untar|md5sum]
#
# randread and randwrite: fio 4 KiB at queue depth 1 for 5 s (IOPS, after
# dropping caches); untar: the Go toolchain's src extracted and synced,
# then removed (seconds for each); md5sum: every file of that tree read
# back after dropping caches (seconds). Ratios > 1 mean the first is
# faster.
# Needs root, fuse3, gocryptfs and fio (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

where=tmpfs
rounds=6
stepname=randread
while [ $# -gt 0 ]; do
  case "$1" in
    -where) where=$2; shift ;;
    -rounds) rounds=$2; shift ;;
    -step) stepname=$2; shift ;;
    *) echo "usage: $0 [-where tmpfs|disk] [-rounds N] [-step randread|randwrite|untar|md5sum]" >&2; exit 1 ;;
  esac
  shift
done

. bench/lib.sh
bench_need gocryptfs fusermount3 fio bc
bench_setup sealfs-readers

base=$work
if [ "$where" = tmpfs ]; then
  base=$work/tmpfs
  mkdir -p "$base"
  mount -t tmpfs -o size=3g tmpfs "$base"
fi
if [ "$stepname" = untar ] || [ "$stepname" = md5sum ]; then
  bench_tarball
fi
for m in g s o; do mkdir -p "$base/$m.cipher" "$base/$m.mnt"; done
gocryptfs -init -q -scryptn 10 -passfile "$pw" -- "$base/g.cipher" >/dev/null
"$bin" init -q -scryptn 10 -passfile "$pw" "$base/s.cipher" >/dev/null
"$bin" init -q -scryptn 10 -passfile "$pw" "$base/o.cipher" >/dev/null
gocryptfs -q -nosyslog -passfile "$pw" -- "$base/g.cipher" "$base/g.mnt"; mounts+=("$base/g.mnt")
"$bin" mount -noiouring -q -passfile "$pw" "$base/s.cipher" "$base/s.mnt"; mounts+=("$base/s.mnt")
"$bin" mount -noiouring -gofusereaders -q -passfile "$pw" "$base/o.cipher" "$base/o.mnt"; mounts+=("$base/o.mnt")

# run M: one step on mount M; prints the figure.
run() {
  local m=$base/$1.mnt t
  case $stepname in
    randread | randwrite)
      dropcaches
      fio --name=rr --directory="$m" --filename=fio.dat --size=256M --rw="$stepname" --bs=4k --iodepth=1 \
        --runtime=5 --time_based --output-format=terse --terse-version=3 |
        awk -F';' -v rw="$stepname" '{print (rw == "randread") ? $8 : $49}' ;;
    untar)
      dropcaches; t=$(now)
      tar -C "$m" -xf "$tarball"; sync
      elapsed "$t"; rm -rf "$m/src" ;;
    md5sum)
      dropcaches; t=$(now)
      (cd "$m" && find src -type f -print0 | xargs -0 md5sum >/dev/null)
      elapsed "$t" ;;
    *) echo "unknown step $stepname" >&2; exit 1 ;;
  esac
}

for m in g s o; do
  case $stepname in
    randread | randwrite) fio --name=prep --directory="$base/$m.mnt" --filename=fio.dat --size=256M --rw=write --bs=1M --end_fsync=1 >/dev/null ;;
    md5sum) tar -C "$base/$m.mnt" -xf "$tarball" ;;
  esac
done
echo "$stepname on $where, $rounds rounds: gocryptfs (g), sealfs (s), sealfs -gofusereaders (o)"
declare -A sum=([g]=0 [s]=0 [o]=0)
for ((r = 1; r <= rounds; r++)); do
  line="round $r:"
  for m in g s o; do
    v=$(run "$m")
    line="$line $m=$v"
    sum[$m]=$(echo "${sum[$m]} + $v" | bc -l)
  done
  echo "$line"
done
# ratio A B: how much faster A is than B.
ratio() {
  case $stepname in
    untar | md5sum) echo "${sum[$2]} / ${sum[$1]}" | bc -l ;;
    *) echo "${sum[$1]} / ${sum[$2]}" | bc -l ;;
  esac
}
printf 'sealfs vs gocryptfs %.2f; sealfs -gofusereaders vs gocryptfs %.2f; sealfs vs sealfs -gofusereaders %.2f\n' \
  "$(ratio s g)" "$(ratio o g)" "$(ratio s o)"
