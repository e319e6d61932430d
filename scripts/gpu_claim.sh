#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, after scripts/gpu_prepare.sh here:
# the method's claim on a fixed time budget, with the wgpu backend. The adding problem at
# T = 1000 (FPTT against whole-sequence BPTT, seed 1, MINUTES each, default 2.5), then S-MNIST on the
# method's published network and settings (2 LTC layers of 256 with learnable gate slopes and
# per-step normalisation of every drive, batch 512, Adamax 3e-3, alpha 0.1, one update per
# pixel) for SMNIST_TRAIN images, one epoch, from data/mnist (copy ../shared/data/mnist there;
# carry [".device/claim", ".gl", "data/mnist"]). Results in $OUT/claim/: one summary JSON, log and
# curve per run. The defaults fit one 600 s device call; LOCAL=1 skips the device set-up (a
# smoke test here on lavapipe, with MINUTES=0.2, ADDING_LENGTH=20, SMNIST_TRAIN=512,
# SMNIST_TEST=512, SMNIST_STEPS=rows and SMNIST_SECONDS=900: sequences of 20 and 28 steps instead
# of 1000 and 784, and S-MNIST's timeout raised from 150 s, since on lavapipe fusion compiles
# each new kernel slowly).
set -uo pipefail
out="${OUT:?set OUT to the folder that comes back}/claim"
mkdir -p "$out"
exec > >(tee "$out/gpu_claim.log") 2>&1
# shellcheck source=scripts/gpu_device.sh
. scripts/gpu_device.sh "$out"
for example in adding smnist; do
    gunzip -c ".device/claim/$example.gz" >"/tmp/$example" && chmod +x "/tmp/$example"
done
export BURN_FPTT_BACKEND=wgpu
minutes=${MINUTES:-2.5}
length=${ADDING_LENGTH:-1000}
for learner in fptt bptt; do
    name="$out/t$length-$learner-seed1"
    echo "== adding T = $length, $learner, $minutes minutes"
    timeout $(( ${minutes%.*} * 60 + 90 )) /tmp/adding --length "$length" --learner "$learner" --seed 1 \
        --iterations 100000 --minutes "$minutes" --eval-every 25 --curve "$name.curve.jsonl" \
        >"$name.json" 2>"$name.log"
    tail -n 2 "$name.log"
    cat "$name.json"
done
echo "== S-MNIST (${SMNIST_STEPS:-pixels}), the published network, ${SMNIST_TRAIN:-4096} training images, 1 epoch"
timeout "${SMNIST_SECONDS:-150}" /tmp/smnist --data "${MNIST:-data/mnist}" --layers 2 --hidden 256 --batch 512 \
    --steps "${SMNIST_STEPS:-pixels}" --gate-slope --step-norm --lr 3e-3 --alpha 0.1 \
    --train-limit "${SMNIST_TRAIN:-4096}" --test-limit "${SMNIST_TEST:-1000}" --epochs 1 \
    >"$out/smnist-fptt.json" 2>"$out/smnist-fptt.log"
tail -n 2 "$out/smnist-fptt.log"
cat "$out/smnist-fptt.json"
echo "== done"
