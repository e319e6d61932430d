"""NIR cross-check between burn-fptt and snnTorch (both directions).

    python tools/nir_crosscheck.py make DIR     # snnTorch: build, run, export DIR/snntorch.nir
    python tools/nir_crosscheck.py compare DIR  # after `cargo run --example nir_crosscheck -- DIR`

`make` builds a small snnTorch network (Linear -> RLeaky -> Linear -> Synaptic -> Linear, zero
reset, per-neuron decays and thresholds), runs it on a fixed input and writes the graph with
snnTorch's own exporter (DIR/snntorch.nir) and its spikes (DIR/snntorch_run.json).
`compare` reads burn-fptt's export (DIR/burn.nir) with `nir.read` (which validates the types),
imports it with snnTorch's importer, runs it on burn-fptt's input and compares spikes and
outputs with DIR/burn_run.json; then compares burn-fptt's run of DIR/snntorch.nir
(DIR/burn_import_run.json) with snnTorch's. Prints and writes DIR/crosscheck.json.
"""

import json
import sys

import nir
import numpy as np
import torch
import snntorch as snn
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir


def make(directory):
    torch.manual_seed(3)
    n1, n2 = 12, 6
    net = torch.nn.Sequential(
        torch.nn.Linear(3, n1),
        snn.RLeaky(
            beta=torch.linspace(0.80, 0.95, n1),
            threshold=torch.full((n1,), 0.5),
            linear_features=n1,
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        ),
        torch.nn.Linear(n1, n2),
        snn.Synaptic(
            alpha=torch.linspace(0.5, 0.8, n2),
            beta=torch.linspace(0.85, 0.95, n2),
            threshold=torch.full((n2,), 0.4),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        ),
        torch.nn.Linear(n2, 2),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[2].weight.abs_().mul_(1.5)
    steps = 80
    x = np.stack([np.sin(0.3 * t + np.arange(3)) + 0.5 for t in range(steps)]).astype(np.float32)
    spikes = record(net, x, {"lif": net[1], "cuba": net[3]})
    graph = export_to_nir(net, torch.tensor(x[0]))
    nir.write(f"{directory}/snntorch.nir", graph)
    with open(f"{directory}/snntorch_run.json", "w") as f:
        json.dump({"input": x.tolist(), **spikes}, f)


def record(net, x, layers):
    """Runs `net` step by step on x ([T, F], batch 1), recording each named layer's spikes and
    the network's output."""
    for module in net.modules():
        if hasattr(module, "reset_hidden"):
            module.reset_hidden()
    seen = {name: [] for name in layers}
    hooks = [
        module.register_forward_hook(
            lambda m, i, o, name=name: seen[name].append(
                (o[0] if isinstance(o, tuple) else o).detach().numpy().reshape(-1).tolist()
            )
        )
        for name, module in layers.items()
    ]
    outputs = []
    with torch.no_grad():
        for t in range(len(x)):
            out = net(torch.tensor(x[t : t + 1]))
            out = out[0] if isinstance(out, tuple) else out
            outputs.append(out.detach().numpy().reshape(-1).tolist())
    for hook in hooks:
        hook.remove()
    return {**seen, "output": outputs}


def spiking_modules(net):
    return [
        m
        for m in net.modules()
        if isinstance(m, (snn.Leaky, snn.RLeaky, snn.Synaptic, snn.RSynaptic))
    ]


def compare_runs(ours, theirs, names):
    result = {}
    for name in names:
        a, b = np.array(ours[name]), np.array(theirs[name])
        result[name] = {
            "shape": list(a.shape),
            "spikes": int(a.sum()),
            "mismatches": int((a != b).sum()),
        }
    a, b = np.array(ours["output"]), np.array(theirs["output"])
    result["output_max_abs_diff"] = float(np.abs(a - b).max())
    result["output_max_abs"] = float(np.abs(b).max())
    return result


def compare(directory):
    report = {}
    # burn-fptt -> snnTorch.
    graph = nir.read(f"{directory}/burn.nir")  # validates the graph's types
    with open(f"{directory}/burn_run.json") as f:
        burn = json.load(f)
    net = import_from_nir(graph)
    lif, cuba = spiking_modules(net)
    x = np.array(burn["input"], dtype=np.float32)
    snntorch_run = record(net, x, {"lif": lif, "cuba": cuba})
    report["burn_fptt_to_snntorch"] = {
        "nodes": sorted(graph.nodes),
        "steps": len(x),
        **compare_runs(burn, snntorch_run, ["lif", "cuba"]),
    }
    # snnTorch -> burn-fptt.
    with open(f"{directory}/snntorch_run.json") as f:
        theirs = json.load(f)
    with open(f"{directory}/burn_import_run.json") as f:
        ours = json.load(f)
    report["snntorch_to_burn_fptt"] = {
        "nodes": sorted(nir.read(f"{directory}/snntorch.nir").nodes),
        "steps": len(theirs["input"]),
        **compare_runs(ours, theirs, ["lif", "cuba"]),
    }
    report["versions"] = {"nir": nir.version, "snntorch": snn.__version__, "torch": torch.__version__}
    print(json.dumps(report, indent=1))
    with open(f"{directory}/crosscheck.json", "w") as f:
        json.dump(report, f, indent=1)
    bad = [
        side
        for side in ("burn_fptt_to_snntorch", "snntorch_to_burn_fptt")
        if report[side]["lif"]["mismatches"] or report[side]["cuba"]["mismatches"]
        or report[side]["output_max_abs_diff"] > 1e-4 * max(1.0, report[side]["output_max_abs"])
    ]
    if bad:
        sys.exit(f"mismatch: {bad}")


if __name__ == "__main__":
    {"make": make, "compare": compare}[sys.argv[1]](sys.argv[2])
