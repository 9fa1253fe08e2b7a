#!/usr/bin/env bash
# Side-by-side benchmark of vaults in an S3 bucket, in one run: sealfs
# mounting s3://bench/s directly, against gocryptfs on "rclone mount
# --vfs-cache-mode writes" of bench/g, the way gocryptfs users keep vaults
# in buckets today. The bucket is a SeaweedFS cluster on loopback (master,
# three volume servers, filer, S3 gateway: ./internal/testweed/weedcluster,
# built from the Go module proxy like the tests' one).
#
#   bench/s3.sh [-quick] [-rounds N] [-only STEP,...]
#
# Steps (as bench/compare.sh): write (dd of 256 MiB, conv=fsync), read
# (cold), untar (the Go toolchain's src), md5sum (of all of it), ls -lR,
# rm -rf. Ratio = gocryptfs-on-rclone time / sealfs time, so > 1.00 means
# sealfs is faster; medians over the rounds, each step on both mounts back
# to back. Both mounts upload a file 5 s after its last close (rclone's
# --vfs-write-back default, sealfs' -write-back default); an fsync makes
# sealfs upload at once, while rclone's fsync only reaches its local
# cache. "cpu" is the CPU time of sealfs, and of gocryptfs plus rclone;
# "weed" is SeaweedFS' CPU time during the step (all its servers), which
# on a small machine bounds the steps that send a request per file.
# Needs root (drop_caches, mounts), fuse3, gocryptfs, rclone.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
rounds=3
only=
while [ $# -gt 0 ]; do
  case "$1" in
    -quick) quick=1 ;;
    -rounds) rounds=$2; shift ;;
    -only) only=$2; shift ;;
    *) echo "usage: $0 [-quick] [-rounds N] [-only STEP,...]" >&2; exit 1 ;;
  esac
  shift
done

. bench/lib.sh
bench_need gocryptfs fusermount3 rclone bc

bench_setup sealfs-s3bench

stream_mb=256
[ $quick = 1 ] && stream_mb=64
bench_tarball

go run ./internal/testweed/buildweed >/dev/null
go build -o "$work/weedcluster" ./internal/testweed/weedcluster
"$work/weedcluster" -env "$work/weed.env" 2>"$work/weed.log" &
wpid=$!
bench_at_exit+=("kill $wpid 2>/dev/null; wait $wpid 2>/dev/null")
for i in $(seq 600); do [ -f "$work/weed.env" ] && break; kill -0 $wpid || { cat "$work/weed.log"; exit 1; }; sleep 0.1; done
set -a; . "$work/weed.env"; set +a
unset AWS_CA_BUNDLE # rclone 1.60 (AWS SDK v1) fails on any custom CA bundle
export RCLONE_CONFIG="$work/rclone.conf"
export RCLONE_CONFIG_SW_TYPE=s3 RCLONE_CONFIG_SW_PROVIDER=Other RCLONE_CONFIG_SW_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_SW_ENDPOINT=$AWS_ENDPOINT_URL RCLONE_CONFIG_SW_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
export RCLONE_CONFIG_SW_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
rclone -q mkdir sw:bench
# The first object in a new bucket waits for SeaweedFS to grow volumes.
echo warm | rclone -q rcat sw:bench/warm

base=$work
mkdir -p "$base/g.raw" "$base/g.mnt" "$base/s.mnt"
rclone mount sw:bench/g "$base/g.raw" --vfs-cache-mode writes --cache-dir "$work/rclone-cache" --daemon --log-file "$work/rclone.log"
mounts+=("$base/g.raw")
for i in $(seq 100); do mountpoint -q "$base/g.raw" && break; sleep 0.1; done
gocryptfs -init -q -scryptn 10 -passfile "$pw" -- "$base/g.raw" >/dev/null
gocryptfs -q -passfile "$pw" -- "$base/g.raw" "$base/g.mnt"
mounts=("$base/g.mnt" "${mounts[@]}")
"$bin" init -q -scryptn 10 -passfile "$pw" s3://bench/s >/dev/null
"$bin" mount -q -cache-dir "$work/sealfs-cache" -passfile "$pw" s3://bench/s "$base/s.mnt"
mounts+=("$base/s.mnt")
gpid=$(pgrep -f -- "gocryptfs .*$base/g.raw" | head -1)
rpid=$(pgrep -f -- "rclone mount sw:bench/g" | head -1)
spid=$(pgrep -f -- "sealfs mount .*s3://bench/s .*-fg" | head -1)

# The peer's CPU (cputime) is both processes'.
peer_pids="$gpid $rpid"

echo "sealfs: $("$bin" version)"
echo "gocryptfs: $(gocryptfs -version)"
echo "rclone: $(rclone version | head -1)"
echo "SeaweedFS: $(go list -m -f '{{.Version}}' github.com/seaweedfs/seaweedfs 2>/dev/null || echo 7506e5f91cd6) on loopback, 3 volume servers"

all=("write_${stream_mb}MiB_fsync" "read_${stream_mb}MiB_cold" "untar_${nfiles}_files" md5sum_all ls_-lR rm_-rf)
steps=()
for st in "${all[@]}"; do selected "${st%%_*}" && steps+=("$st"); done
res=$work/res
# The extra column of bench_run: SeaweedFS' CPU time during the step (all
# its servers).
weedcpu() {
  local hz; hz=$(getconf CLK_TCK)
  for p in $(pgrep -P "$wpid"); do cat "/proc/$p/stat" 2>/dev/null; done |
    awk -v hz="$hz" '{s += ($14 + $15) / hz} END {printf "%.3f", s}'
}
run_extra_start() { weedcpu; }
run_extra_end() { echo "$(weedcpu) - $1" | bc -l; }
bench_rounds "$base/g.mnt" "$gpid" "$base/s.mnt" "$spid"
printf '\nS3 bucket on SeaweedFS (median of %d round(s); cpu = CPU seconds of the file systems; weed = CPU seconds of SeaweedFS; range = lowest and highest ratio of one round)\n' "$rounds"
printf '%-26s %14s %10s %7s %11s   %9s %9s %9s %9s\n' workload "gocryptfs+rclone" sealfs ratio range "g+r cpu" "s cpu" "g weed" "s weed"
for st in "${steps[@]}"; do
  if ! grep -q "^g $st " "$res" || ! grep -q "^s $st " "$res"; then
    gv=; sv=
    grep -q "^g $st " "$res" && gv=$(col g "$st" 3)
    grep -q "^s $st " "$res" && sv=$(col s "$st" 3)
    printf '%-26s %14s %10s   (failed: %s)\n' "$st" "${gv:-failed}" "${sv:-failed}" "$(grep -c " $st " "$res.failed" 2>/dev/null || echo 0) run(s)"
    continue
  fi
  gv=$(col g "$st" 3); sv=$(col s "$st" 3)
  printf '%-26s %13.2fs %9.2fs %7.2f %11s   %8.2fs %8.2fs %8.2fs %8.2fs\n' "$st" "$gv" "$sv" "$(echo "$gv / $sv" | bc -l)" "$(ratio_range "$res" "$st")" \
    "$(col g "$st" 4)" "$(col s "$st" 4)" "$(col g "$st" 5)" "$(col s "$st" 5)"
done
