#!/usr/bin/env bash
# Release artefacts: nitools-<version>-<arch>.tar (docker-archive, one layer) for amd64,
# arm64, arm/v7 and arm/v5 (Debian armel), and their SHA256SUMS, into DIR (default dist/). Needs root, mmdebstrap
# and qemu-user-static (Debian packages); no registry, no container runtime.
#
#   sudo contrib/release-images.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
version=$(python3 -c 'import nitools; print(nitools.__version__)')
mkdir -p "$out"
for arch in amd64 arm64 arm/v7 arm/v5; do
    name="nitools-$version-${arch//\//}.tar"  # arm/v7 -> armv7, arm/v5 -> armv5
    tests/container/build.sh --arch "$arch" --archive "$out/$name" "nitools:$version"
done
(cd "$out" && sha256sum nitools-"$version"-*.tar > SHA256SUMS && cat SHA256SUMS)
