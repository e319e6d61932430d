#!/usr/bin/env bash
# Prepares the GPU runs for the lent device machine (/work/.library/device): builds bench_step
# three times (plain wgpu: the crate's CubeCL kernels, WGSL; `vulkan`: the same compiled to
# SPIR-V; `fusion`: burn's fusion and autotune over the reference bodies) and adding and smnist
# with `fusion`, strips and gzips them into .device/bench/ (the three bench_steps and a copy of
# the PyTorch reference, about 50 MB) and .device/claim/ (adding
# and smnist, about 37 MB: the two do not fit one 64 MiB carry together), and downloads the Vulkan
# loader packages into .gl/. Both folders are kept out of git
# (.git/info/exclude) and travel with `carry: [".device/bench", ".gl"]` or
# `carry: [".device/claim", ".gl", "data/mnist"]`. Then, in one device call each:
#   scripts/gpu_bench.sh          (see that script; about 3 minutes on an H200)
#   scripts/gpu_claim.sh          (the method's claim on a time budget; see that script)
set -euo pipefail
cd "$(dirname "$0")/.."
reference="${REFERENCE:-../shared/reference/ltc_fptt_torch.py}"
target="${CARGO_TARGET_DIR:-target}"
for folder in /.device/ /.gl/; do
    grep -qxF "$folder" .git/info/exclude 2>/dev/null || echo "$folder" >>.git/info/exclude
done
rm -rf .device
mkdir -p .device/bench .device/claim
cargo build --release --example bench_step --features wgpu >&2
strip -o .device/bench/bench_step_wgpu "$target/release/examples/bench_step"
gzip -f .device/bench/bench_step_wgpu
cargo build --release --example bench_step --features vulkan >&2
strip -o .device/bench/bench_step_spirv "$target/release/examples/bench_step"
gzip -f .device/bench/bench_step_spirv
cargo build --release --example bench_step --example adding --example smnist --features fusion >&2
for example in bench/bench_step claim/adding claim/smnist; do
    strip -o ".device/$example" "$target/release/examples/${example#*/}"
    gzip -f ".device/$example"
done
cp "$reference" .device/bench/ltc_fptt_torch.py
if ! ls .gl/*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${apt_options[@]}" update -qq
    (cd .gl && apt-get "${apt_options[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .device/bench .device/claim .gl
