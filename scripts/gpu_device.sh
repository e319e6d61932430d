# Sourced by the scripts that run on the lent GPU machine (gpu_bench.sh, gpu_claim.sh): unpacks
# the carried Vulkan loader packages (.gl/), points Vulkan at the NVIDIA driver and writes the
# GPU's name into "$1/gpu.txt". LOCAL=1 skips it (a smoke test here on lavapipe).
if [ -z "${LOCAL:-}" ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$1/gpu.txt"
fi
