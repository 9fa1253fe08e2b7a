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

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
dropcaches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
