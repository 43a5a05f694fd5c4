#!/usr/bin/env bash
# Build the nitools image with no registry: a Debian bookworm base made by mmdebstrap,
# imported into podman, then the project's Containerfile built on it in chroot isolation
# (no container runtime needed). Usage: tests/container/build.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-localhost/nitools:test}
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
