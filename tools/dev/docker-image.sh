#!/usr/bin/env bash
# Build the Docker runtime's test image from Debian packages (no registry is
# reachable from CI): a root filesystem holding python3, pytest, bash and
# coreutils, extracted with dpkg-deb from `apt-get download`ed packages, saved
# as a tarball for `docker import` under the name the spec's example uses
# (python:3.11-slim). The tarball is cached; a second run only prints its path.
# Usage: tools/dev/docker-image.sh [OUT.tar]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${AF_DOCKER_IMAGE_TAR:-$top/.cache/docker/python-3.11-slim.tar}}
if [[ -s $out ]]; then
  echo "$out"
  exit 0
fi
roots=(python3 python3-pytest python-is-python3 bash dash coreutils grep sed
       findutils util-linux procps make)
work=$(mktemp -d /tmp/af-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/rootfs" "$(dirname "$out")"

# Dependency closure, real packages only (virtual ones print as <name>).
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${roots[@]}" |
    grep -E '^[a-z0-9]' | sed 's/:any$//' | sort -u > "$work/list"
  (cd "$work/debs" && xargs -a "$work/list" apt-get download -qq) >&2
}
# A fresh machine may have no (or stale) package lists: update once.
closure || { apt-get update -qq >&2 && closure; }
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/rootfs"
done

# What maintainer scripts would have done, as far as the image needs it.
r=$work/rootfs
[[ -e $r/bin/sh ]] || ln -s dash "$r/bin/sh"
[[ -e $r/usr/bin/pytest ]] || ln -s pytest-3 "$r/usr/bin/pytest"
mkdir -p "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/etc" "$r/root" "$r/workspace"
chmod 1777 "$r/tmp"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
ldconfig -r "$r" 2>/dev/null || true
tar -C "$r" --numeric-owner -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$out"
