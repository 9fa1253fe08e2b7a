# Shared by the bench/ scripts (sourced): tool installation, a work
# directory with a fresh sealfs binary and a password file, unmounting at
# exit, and timing helpers.

# bench_need TOOL...: installs the Debian packages of missing tools.
bench_need() {
  local need=() pkgs=() c
  for c in "$@"; do command -v "$c" >/dev/null || need+=("$c"); done
  [ ${#need[@]} -gt 0 ] || return 0
  for c in "${need[@]}"; do case $c in fusermount3) pkgs+=(fuse3) ;; *) pkgs+=("$c") ;; esac; done
  apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null
}

# bench_setup NAME: sets work (a new directory), bin (sealfs built from this
# checkout), pw (a password file) and mounts (unmounted at exit, with
# $work/tmpfs and the work directory).
bench_setup() {
  work=$(mktemp -d "/var/tmp/$1.XXXXXX")
  mounts=()
  bench_at_exit=()
  trap bench_cleanup EXIT
  bin=$work/sealfs
  go build -o "$bin" ./cmd/sealfs
  pw=$work/pw
  echo benchpassword >"$pw"
}

bench_cleanup() {
  local m c i
  for m in "${mounts[@]}"; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null || true; done
  # fusermount returns before the servers have exited and closed their
  # files in CIPHERDIR; the tmpfs under them stays busy until they have.
  if mountpoint -q "$work/tmpfs" 2>/dev/null; then
    for i in $(seq 50); do umount "$work/tmpfs" 2>/dev/null && break; sleep 0.1; done
    mountpoint -q "$work/tmpfs" && umount -l "$work/tmpfs"
  fi
  for c in "${bench_at_exit[@]}"; do eval "$c"; done
  rm -rf "$work"
}

# bench_tarball: sets tarball (the Go toolchain's src as a tar in the work
# directory, about 11,000 files when complete) and nfiles (its files).
bench_tarball() {
  tarball=$work/gosrc.tar
  tar -C "$(go env GOROOT)" -cf "$tarball" src
  nfiles=$(tar -tf "$tarball" | grep -vc '/$')
}

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
dropcaches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# The workload steps and the table helpers of compare.sh and s3.sh; step
# uses quick, stream_mb and tarball, set by the script.
# Server CPU time (user + system, seconds) of process $1; of all the
# processes in peer_pids when $1 is the first of them (a peer made of two
# processes, such as gocryptfs over rclone).
cputime() {
  local files=("/proc/$1/stat") p
  if [ -n "${peer_pids:-}" ] && [ "$1" = "${peer_pids%% *}" ]; then
    files=()
    for p in $peer_pids; do files+=("/proc/$p/stat"); done
  fi
  awk -v hz="$(getconf CLK_TCK)" '{s += ($14 + $15) / hz} END {printf "%.3f", s}' "${files[@]}"
}

# step NAME MNT PID -> runs one step of the workload on MNT (served by PID)
# and prints "name wall_seconds server_cpu_seconds" (IOPS steps: "name iops
# server_cpu_microseconds_per_io").
step() {
  local name=$1 m=$2 pid=$3 t c0 v
  local fiosize=256M; [ $quick = 1 ] && fiosize=64M
  local rt=10; [ $quick = 1 ] && rt=4
  # What the step before left dirty goes to disk first, outside the
  # timing, whichever mount it came from.
  sync
  case $name in
    read*|md5sum*|ls*|randread*) dropcaches ;;
  esac
  c0=$(cputime "$pid"); t=$(now)
  # A workload that fails fails the step (run leaves it out of the table).
  case $name in
    write*) dd if=/dev/zero of="$m/stream" bs=1M count=$stream_mb conv=fsync status=none || return 1 ;;
    read*) dd if="$m/stream" of=/dev/null bs=1M status=none && rm -f "$m/stream" || return 1 ;;
    untar*) tar -C "$m" -xf "$tarball" && sync || return 1 ;;
    md5sum*) (cd "$m" && find src -type f -print0 | xargs -0 md5sum >/dev/null) || return 1 ;;
    ls*) ls -lR "$m/src" >/dev/null || return 1 ;;
    rm*) rm -rf "$m/src" && sync "$m" || return 1 ;; # the directory's fsync waits for removals a file system defers
    randread*)
      fio --name=prep --directory="$m" --filename=fio.dat --size=$fiosize --rw=write --bs=1M --end_fsync=1 >/dev/null
      dropcaches; c0=$(cputime "$pid")
      v=$(fio --name=rr --directory="$m" --filename=fio.dat --size=$fiosize --rw=randread --bs=4k --iodepth=1 --runtime=$rt --time_based --output-format=terse --terse-version=3 | awk -F';' '{print $8}') ;;
    randwrite*)
      v=$(fio --name=rw --directory="$m" --filename=fio.dat --size=$fiosize --rw=randwrite --bs=4k --iodepth=1 --runtime=$rt --time_based --output-format=terse --terse-version=3 | awk -F';' '{print $49}')
      rm -f "$m/fio.dat" ;;
  esac
  local cpu; cpu=$(echo "$(cputime "$pid") - $c0" | bc -l)
  case $name in
    # IOPS steps run for a fixed time, so the faster server does more
    # I/O in it: compare CPU per I/O (microseconds) instead.
    *iops) [ -n "${v:-}" ] && [ "$v" != 0 ] || { echo "$name: fio gave no IOPS" >&2; exit 1; }
      cpu=$(echo "$cpu * 1000000 / ($v * $rt)" | bc -l) ;;
  esac
  [ -n "${v:-}" ] || v=$(elapsed "$t")
  echo "$name $v $cpu"
}

# selected STEP: whether STEP runs (-only, with what it needs).
selected() {
  [ -z "$only" ] && return 0
  local want=",$only,"
  case $want in *,md5sum,* | *,ls,* | *,rm,* | *,untar,*) want="$want,untar,rm," ;; esac
  case $want in *,read,* | *,write,*) want="$want,write,read," ;; esac
  case $want in *,randwrite,* | *,randread,*) want="$want,randread,randwrite," ;; esac
  case $want in *,dav-get,* | *,dav-propfind,* | *,dav-put,* | *,dav-delete,*) want="$want,dav-put,dav-delete," ;; esac
  case $want in *,dav-read,* | *,dav-write,*) want="$want,dav-write,dav-read," ;; esac
  case $want in *",$1,"*) return 0 ;; esac
  return 1
}

# ratio_range RESULTS STEP: the lowest and highest ratio of one round
# (gocryptfs and sealfs back to back), as "min-max".
ratio_range() {
  awk -v k="$2" '$2 == k { if ($1 == "g") g[++ng] = $3; else s[++ns] = $3 }
    END {
      for (i = 1; i <= ng && i <= ns; i++) {
        r = (k ~ /iops$/) ? s[i] / g[i] : g[i] / s[i]
        if (i == 1 || r < lo) lo = r
        if (i == 1 || r > hi) hi = r
      }
      printf "%.2f-%.2f", lo, hi
    }' "$1"
}

# bench_run WHO MNT PID STEP: one step on MNT (served by PID); its line
# "WHO step seconds cpu [extra]" goes to $res and to stderr. Where the script
# defines run_extra_start and run_extra_end, their difference is an extra
# column (s3.sh: SeaweedFS' CPU). A step that fails (rm -rf through rclone's
# directory cache can leave "Directory not empty") is reported, noted in
# $res.failed and left out of the table; what it left behind is removed for
# the next round.
bench_run() {
  local line x0=
  declare -F run_extra_start >/dev/null && x0=$(run_extra_start)
  if line=$(step "$4" "$2" "$3"); then
    [ -n "$x0" ] && line="$line $(run_extra_end "$x0")"
    echo "$1 $line" >>"$res"
    echo "  $1 $line" >&2
  else
    echo "  $1 $4: FAILED" >&2
    echo "$1 $4 failed" >>"$res.failed"
    rm -rf "$2/src" 2>/dev/null || true
  fi
}

# bench_rounds G_MNT G_PID S_MNT S_PID: runs the steps (the array steps)
# for the rounds, both mounts back to back, the peer first in even rounds.
bench_rounds() {
  local r st
  for ((r = 0; r < rounds; r++)); do
    for st in "${steps[@]}"; do
      if ((r % 2)); then
        bench_run s "$3" "$4" "$st"
        bench_run g "$1" "$2" "$st"
      else
        bench_run g "$1" "$2" "$st"
        bench_run s "$3" "$4" "$st"
      fi
    done
  done
}

# col WHO STEP N: the median of column N of WHO's lines for STEP in $res.
col() { awk -v w="$1" -v k="$2" -v n="$3" '$1 == w && $2 == k {print $n}' "$res" | median; }

median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
