#!/usr/bin/env bash
# Install what AgentFense needs on Debian 12 (only the missing packages).
# Usage: tools/dev/deps.sh [build|test|vm]   (each level includes the previous)
set -euo pipefail
level=${1:-build}

build_pkgs=(
  gcc make cmake pkg-config clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libgrpc-dev protobuf-compiler protobuf-compiler-grpc
  protobuf-c-compiler libprotobuf-c-dev
  libsqlite3-dev libssl-dev libseccomp-dev libcurl4-openssl-dev libjansson-dev
  python3 python3-grpcio python3-protobuf python3-venv python3-pip
  python3-setuptools python-is-python3 python3-pytest
)
test_pkgs=(libcmocka-dev clang-format clang-tidy valgrind libclang-rt-14-dev kmod procps make
           docker.io iproute2 iptables)
vm_pkgs=(qemu-system-x86 busybox-static kmod cpio)

want=("${build_pkgs[@]}")
case "$level" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  vm) want+=("${test_pkgs[@]}" "${vm_pkgs[@]}") ;;
  *) echo "deps.sh: unknown level '$level' (build, test, vm)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
