#!/usr/bin/env bash
# Build the nitools image with no registry.
#
#   tests/container/build.sh [--arch amd64|arm64|arm/v7|arm/v5] [--archive FILE] [TAG]
#
# --archive FILE: the root file system made by tests/container/rootfs.py for that
# architecture (mmdebstrap; foreign ones under qemu-user in a namespace of their own),
# written as a one-layer docker-archive (tests/container/docker_archive.py) that RouterOS
# imports and 'podman load' takes. Without --archive (amd64 only): the Containerfile
# built by podman on an mmdebstrap base, in chroot isolation (no container runtime).
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=amd64
archive=
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --archive) archive=$2; shift 2 ;;
        -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
tag=${1:-localhost/nitools:test}
if [ -n "$archive" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    python3 -m tests.container.rootfs --arch "$arch" "$work/rootfs" >/dev/null
    python3 -m tests.container.docker_archive "$work/rootfs" --arch "$arch" --tag "$tag" \
        "$archive" >/dev/null
    echo "$archive"
    exit 0
fi
if [ "$arch" != amd64 ]; then
    echo "build.sh: --arch $arch needs --archive FILE (no build under emulation)" >&2
    exit 2
fi
base=localhost/nitools-base:bookworm
if ! podman image exists "$base"; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # minbase without documentation, manual pages and translations
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$work/base.tar"
    podman import --quiet "$work/base.tar" "$base" >/dev/null
fi
# This machine's own CA bundle, for a TLS-intercepting proxy between the build and PyPI.
ca=/etc/ssl/certs/ca-certificates.crt
podman build --quiet --format docker --isolation=chroot --build-arg "BASE=$base" \
    --volume "$ca:/etc/nitools-build-ca.crt:ro" --build-arg PIP_CERT=/etc/nitools-build-ca.crt \
    -t "$tag" -f Containerfile . >/dev/null
echo "$tag"
