#!/usr/bin/env bash
# Side-by-side benchmark of reverse mode: "sealfs mount -reverse" and
# "sealfs export" against "gocryptfs -reverse" (Debian package) on the same
# plaintext tree and config, in one run, alternating between the two.
#
#   bench/reverse.sh [-rounds N] [-where tmpfs|disk]
#
# The tree is the Go toolchain's src ($(go env GOROOT)/src, about 11,000
# files). Workloads, each on fresh kernel caches (the plaintext stays in
# memory on tmpfs; on disk it is read cold):
#   ls_-lR       ls -lR through the view
#   read_all     every file of the view read (find -type f | xargs cat)
#   export       sealfs export PLAIN OUT  vs  rsync -a GOCRYPTFS-MNT/ OUT/
#   export_again the same into the now up-to-date OUT (nothing to copy)
#
# Ratio = gocryptfs time / sealfs time, so > 1.00 means sealfs is faster.
# Needs root (mounts, drop_caches), fuse3, gocryptfs and rsync (installed
# when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=1
where=tmpfs
while [ $# -gt 0 ]; do
  case "$1" in
    -rounds) rounds=$2; shift ;;
    -where) where=$2; shift ;;
    *) echo "usage: $0 [-rounds N] [-where tmpfs|disk]" >&2; exit 1 ;;
  esac
  shift
done

. bench/lib.sh
bench_need gocryptfs fusermount3 rsync bc

bench_setup sealfs-revbench

base=$work
if [ "$where" = tmpfs ]; then
  mkdir -p "$work/tmpfs"
  mount -t tmpfs -o size=4g tmpfs "$work/tmpfs"
  base=$work/tmpfs
fi
plain=$base/plain
cp -a "$(go env GOROOT)/src" "$plain"
nfiles=$(find "$plain" -type f | wc -l)
"$bin" init -reverse -q -scryptn 10 -passfile "$pw" "$plain" >/dev/null
mkdir -p "$work/g.mnt" "$work/s.mnt"


mount_g() { gocryptfs -reverse -q -nosyslog -passfile "$pw" -- "$plain" "$work/g.mnt"; mounts+=("$work/g.mnt"); }
mount_s() { "$bin" mount -reverse -q -passfile "$pw" "$plain" "$work/s.mnt"; mounts+=("$work/s.mnt"); }
umount_all() { fusermount3 -u "$work/g.mnt" 2>/dev/null || true; fusermount3 -u "$work/s.mnt" 2>/dev/null || true; }

# view_workload MNT: ls -lR and read everything, on fresh caches.
view_workload() {
  local m=$1 t
  dropcaches
  t=$(now); ls -lR "$m" >/dev/null; echo "ls_-lR $(elapsed "$t")"
  dropcaches
  t=$(now); (cd "$m" && find . -type f -print0 | xargs -0 cat >/dev/null); echo "read_all $(elapsed "$t")"
}

declare -A g s
for ((r = 0; r < rounds; r++)); do
  mount_g; mount_s
  while read -r k v; do g[$k]=$(echo "${g[$k]:-0} + $v" | bc -l); done < <(view_workload "$work/g.mnt")
  while read -r k v; do s[$k]=$(echo "${s[$k]:-0} + $v" | bc -l); done < <(view_workload "$work/s.mnt")

  # Export: rsync from the gocryptfs mount vs sealfs export (no FUSE).
  rm -rf "$base/g.out" "$base/s.out"
  dropcaches
  t=$(now); rsync -a "$work/g.mnt/" "$base/g.out/"; v=$(elapsed "$t"); g[export]=$(echo "${g[export]:-0} + $v" | bc -l)
  dropcaches
  t=$(now); "$bin" export -q -passfile "$pw" "$plain" "$base/s.out"; v=$(elapsed "$t"); s[export]=$(echo "${s[export]:-0} + $v" | bc -l)
  dropcaches
  t=$(now); rsync -a "$work/g.mnt/" "$base/g.out/"; v=$(elapsed "$t"); g[export_again]=$(echo "${g[export_again]:-0} + $v" | bc -l)
  dropcaches
  t=$(now); "$bin" export -q -passfile "$pw" "$plain" "$base/s.out"; v=$(elapsed "$t"); s[export_again]=$(echo "${s[export_again]:-0} + $v" | bc -l)
  umount_all
  # The two exports hold the same files (names and sizes; the contents
  # of hard links may use either link's IVs).
  if ! diff <(cd "$base/g.out" && find . -printf '%p %s\n' | sort) <(cd "$base/s.out" && find . -printf '%p %s\n' | sort) >/dev/null; then
    echo "warning: the exports differ" >&2
  fi
done

echo "sealfs: $("$bin" version)"
echo "gocryptfs: $(gocryptfs -version)"
printf '\nreverse mode, %d files of Go src on %s (%d round(s))\n' "$nfiles" "$where" "$rounds"
echo "ratio = gocryptfs time / sealfs time; > 1 means sealfs is faster"
printf '%-16s %12s %12s %8s\n' workload gocryptfs sealfs ratio
for k in ls_-lR read_all export export_again; do
  gv=$(echo "${g[$k]} / $rounds" | bc -l); sv=$(echo "${s[$k]} / $rounds" | bc -l)
  printf '%-16s %11.2fs %11.2fs %8.2f\n' "$k" "$gv" "$sv" "$(echo "$gv / $sv" | bc -l)"
done
printf '(gocryptfs export = rsync -a from its -reverse mount)\n'
