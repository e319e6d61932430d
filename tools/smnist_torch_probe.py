"""Cross-check of burn-fptt's S-MNIST probes with the independent PyTorch reference.

Trains the reference's LTC network (../shared/reference/ltc_fptt_torch.py: its model, spike
function and FPTT update) on the first --train S-MNIST images with one FPTT update per pixel
(or per chunk, --k), the linear-ramp loss, Adamax and clipping 1, then sets W <- W-bar and tests
on the first --test images, printing one JSON line per epoch. Same budget as the burn-fptt
probes in RESULTS.md, so a figure there can be told apart from an implementation bug.

--bn adds per-time-step batch normalisation of the input, recurrent and readout drives (batch
statistics in training, one running mean/variance per step for testing, scale initialised to
0.1), as in the method's published S-MNIST network; the reference and burn-fptt have none.

    python3 tools/smnist_torch_probe.py [--bn] [--train 3200 --test 1000 --hidden 64 --lr 3e-3]
"""
import argparse, gzip, json, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared")
sys.path.insert(0, os.path.join(SHARED, "reference"))
import ltc_fptt_torch as ref  # noqa: E402

def idx(path):
    with gzip.open(path) as f: data = f.read()
    nd = data[3]; dims = [int.from_bytes(data[4+4*i:8+4*i], "big") for i in range(nd)]
    return np.frombuffer(data, np.uint8, offset=4+4*nd).reshape(dims)

class StepBN(nn.Module):
    def __init__(self, n, T, momentum=0.1, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), 0.1)); self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("mean", torch.zeros(T, n)); self.register_buffer("var", torch.ones(T, n))
        self.m, self.eps = momentum, eps
    def forward(self, x, t):
        if self.training:
            mu = x.mean(0); var = x.var(0, unbiased=False)
            with torch.no_grad():
                n = x.shape[0]
                self.mean[t] = (1 - self.m) * self.mean[t] + self.m * mu
                self.var[t] = (1 - self.m) * self.var[t] + self.m * var * n / max(n - 1, 1)
        else:
            mu, var = self.mean[t], self.var[t]
        return (x - mu) / torch.sqrt(var + self.eps) * self.weight + self.bias

class Net(ref.LtcSrnn):
    def __init__(self, n_hid, bn, T=784):
        super().__init__(1, n_hid, 10)
        self.bn = bn
        if bn:
            self.bn_x, self.bn_r, self.bn_o = StepBN(n_hid, T), StepBN(n_hid, T), StepBN(10, T)
        for lin in (self.w_x, self.w_m, self.w_a, self.w_o, self.w_k):
            nn.init.xavier_normal_(lin.weight); nn.init.zeros_(lin.bias)
        nn.init.orthogonal_(self.w_r.weight); nn.init.zeros_(self.w_r.bias)
    def step_t(self, x_t, state, t):
        if not self.bn: return self.step(x_t, state)
        u, s, b, m = state
        i_t = self.bn_x(self.w_x(x_t), t) + self.bn_r(self.w_r(s), t)
        alpha = torch.sigmoid(self.w_m(torch.cat([i_t, u], 1)))
        rho = torch.sigmoid(self.w_a(torch.cat([i_t, b], 1)))
        b = rho * b + (1 - rho) * s; theta = 0.1 + 1.8 * b
        u = (1 - alpha) * u + alpha * i_t
        s = ref.Spike.apply(u - theta); u = (1 - s) * u
        d = self.bn_o(self.w_o(s), t)
        k = torch.sigmoid(self.w_k(torch.cat([d, m], 1)))
        m = (1 - k) * m + k * d
        return (u, s, b, m)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bn", action="store_true"); ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--train", type=int, default=3200); ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-3); ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=1); ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42); ap.add_argument("--k", type=int, default=784)
    ap.add_argument("--data", default=os.path.join(SHARED, "data", "mnist"))
    a = ap.parse_args()
    torch.manual_seed(a.seed); torch.set_num_threads(1)
    d = a.data.rstrip("/") + "/"
    xtr = torch.tensor(idx(d+"train-images-idx3-ubyte.gz")[:a.train].reshape(-1, 784) / 255.0, dtype=torch.float32)
    ytr = torch.tensor(idx(d+"train-labels-idx1-ubyte.gz")[:a.train].astype(np.int64))
    xte = torch.tensor(idx(d+"t10k-images-idx3-ubyte.gz")[:a.test].reshape(-1, 784) / 255.0, dtype=torch.float32)
    yte = torch.tensor(idx(d+"t10k-labels-idx1-ubyte.gz")[:a.test].astype(np.int64))
    net = Net(a.hidden, a.bn); opt = torch.optim.Adamax(net.parameters(), lr=a.lr)
    fptt = ref.Fptt(net, alpha=a.alpha); T = 784; chunk = T // a.k
    start = time.time()
    for ep in range(a.epochs):
        net.train(); perm = torch.randperm(a.train); correct = 0
        for bi in range(a.train // a.batch):
            idxs = perm[bi*a.batch:(bi+1)*a.batch]; x, y = xtr[idxs], ytr[idxs]
            state = net.init_state(len(y)); loss = 0.0
            for t in range(T):
                state = net.step_t(x[:, t:t+1], state, t)
                loss = loss + (t + 1) / T * F.nll_loss(F.log_softmax(state[3], 1), y)
                if (t + 1) % chunk == 0:
                    total = loss + fptt.regularizer()
                    opt.zero_grad(set_to_none=True); total.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step(); fptt.post_step()
                    state = tuple(v.detach() for v in state); loss = 0.0
            correct += (state[3].argmax(1) == y).sum().item()
        with torch.no_grad():
            for p, wb in zip(fptt.params, fptt.wbar): p.copy_(wb)
            net.eval(); state = net.init_state(a.test)
            for t in range(T): state = net.step_t(xte[:, t:t+1], state, t)
            acc = (state[3].argmax(1) == yte).float().mean().item()
            tl = F.nll_loss(F.log_softmax(state[3], 1), yte).item()
        print(json.dumps({"impl": "pytorch-reference", "seed": a.seed, "hidden": a.hidden, "lr": a.lr,
                          "alpha": a.alpha, "batch": a.batch, "train_samples": a.train,
                          "test_samples": a.test, "epoch": ep+1, "bn": a.bn, "k": a.k, "train_acc": correct / (a.train // a.batch * a.batch),
                          "test_acc": acc, "test_loss": tl, "seconds": time.time() - start}), flush=True)

main()
