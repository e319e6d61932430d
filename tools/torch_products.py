"""Times, with PyTorch on the CPU, the twelve batch x hidden x hidden matrix products of one
burn-fptt FPTT step (the same shapes and order as `bench_step --products`): forward, five
`activation @ weight`; backward, five `activation.T @ activation` (weight gradients) and two
`activation @ weight.T` (the current's gradient through the two gates). Prints one JSON line with
`products_ms_per_step`, the median of 15 repetitions after 3 warm-up ones, so that
scripts/compare_reference.sh can set both libraries' products side by side with their steps.
"""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    activation = torch.rand(args.batch, args.hidden) * 2 - 1
    weight = torch.rand(args.hidden, args.hidden) * 2 - 1

    def products():
        out = []
        for _ in range(5):
            out.append(activation @ weight)
            out.append(activation.T @ activation)
        for _ in range(2):
            out.append(activation @ weight.T)
        return out

    times = []
    for _ in range(18):
        started = time.perf_counter()
        products()
        times.append((time.perf_counter() - started) * 1e3)
    print(json.dumps({
        "impl": "pytorch-" + torch.__version__,
        "batch": args.batch,
        "hidden": args.hidden,
        "threads": args.threads,
        "products_ms_per_step": round(statistics.median(times[3:]), 4),
    }))


if __name__ == "__main__":
    main()
