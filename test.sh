#!/usr/bin/env bash
# The sealfs test suite: static checks, the race-enabled test suite (including
# real FUSE mounts and live interop with the gocryptfs binary), and a short run
# of every fuzz target. Installs the Debian packages the tests need when run as
# root on a machine that lacks them.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v gocryptfs >/dev/null 2>&1 || need+=(gocryptfs)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v git >/dev/null 2>&1 || need+=(git)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: please install: ${need[*]} (e.g. sudo apt-get install -y ${need[*]})" >&2
    exit 1
  fi
fi

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi

echo "== go vet"
go vet ./...

# The library, the stores, fsck, reverse and the mount-free commands build
# on every OS; FUSE stays Linux-only.
echo "== cross builds (darwin, freebsd, windows) and go vet for windows"
for os in darwin freebsd windows; do
  GOOS=$os GOARCH=amd64 go build ./...
done
GOOS=windows GOARCH=amd64 go vet ./...

# The S3 tests run a real SeaweedFS, built once from the Go module proxy
# and cached in ~/.cache/sealfs (a first build takes many minutes).
echo "== SeaweedFS for the S3 tests"
go run ./internal/testweed/buildweed

echo "== go test -race"
go test -race -timeout 20m -count=1 ./...

# Where the kernel has FUSE-over-io_uring, the mounts run once more over
# it: the fusefs suite with every mount asking for the ring, and the
# command line, which uses the ring by default where the kernel offers it.
uring=/sys/module/fuse/parameters/enable_uring
if [ -w "$uring" ] && [ -r /dev/fuse ]; then
  echo "== go test -race over FUSE-over-io_uring (fusefs, cmd/sealfs)"
  was=$(cat "$uring")
  trap 'echo "$was" >"$uring"' EXIT
  echo Y >"$uring"
  SEALFS_TEST_IOURING=1 go test -race -timeout 20m -count=1 ./fusefs ./cmd/sealfs
  echo "$was" >"$uring"
  trap - EXIT
fi

echo "== Python binding (python/tests, on libsealfs.so)"
libdir=$(mktemp -d)
scripts/build-libsealfs.sh "$libdir" >/dev/null
SEALFS_LIB="$libdir/libsealfs.so" PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s python/tests
rm -rf "$libdir"

echo "== fuzz (short)"
fuzztime=${FUZZTIME:-5s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    # Go 1.26's fuzz coordinator can fail a duration-limited run with a bare
    # "context deadline exceeded" as the time runs out (golang/go#75804,
    # fixed in Go 1.27), with no failing input. That alone is retried once
    # and then let pass; a failing input (written to testdata/fuzz) or any
    # other failure fails the suite.
    for try in 1 2; do
      if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/sealfs-fuzz.log 2>&1; then break; fi
      if grep -q 'Failing input written' /tmp/sealfs-fuzz.log || ! grep -q 'context deadline exceeded' /tmp/sealfs-fuzz.log; then
        cat /tmp/sealfs-fuzz.log; exit 1
      fi
      if [ $try = 2 ]; then echo "   (known Go fuzz coordinator deadline race, twice, no failing input)"; break; fi
      echo "   (known Go fuzz coordinator deadline race, no failing input: once more)"
    done
  done
done
echo "== all checks passed"
