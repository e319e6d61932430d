"""Independent reference values for burn-fptt's tests.

Written from the equations in DESIGN.md with numpy (float64), sharing no code with the crate.
The tests hard-code what this prints; rerun it to check or extend them:

    python3 tools/reference_values.py
"""
import math

import numpy as np

np.set_printoptions(precision=10, suppress=False, floatmode="maxprec")


def norm_pdf(x, m, sd):
    return np.exp(-((x - m) ** 2) / (2 * sd * sd)) / (math.sqrt(2 * math.pi) * sd)


def multi_gaussian(v, l=0.3, k=6.0, h=0.15, gamma=0.5):
    return gamma * ((1 + h) * norm_pdf(v, 0, l) - h * norm_pdf(v, l, k * l) - h * norm_pdf(v, -l, k * l))


def fast_sigmoid(v, slope=10.0):
    return 1.0 / (1.0 + slope * np.abs(v)) ** 2


def sigmoid_sg(v, slope=4.0):
    s = 1.0 / (1.0 + np.exp(-slope * v))
    return slope * s * (1 - s)


def arctan_sg(v, alpha=2.0):
    return alpha / 2 / (1 + (math.pi / 2 * alpha * v) ** 2)


def triangle(v, width=1.0):
    return np.maximum(0.0, 1 - np.abs(v) / width) / width


MARGINS = []  # distance of every membrane from its threshold: f32 must not flip a spike


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def show(name, a):
    a = np.asarray(a, dtype=np.float64)
    print(f"{name} = {np.array2string(a, separator=', ', max_line_width=200)}")


def ltc_step(x, st, W, b0=0.1, beta=1.8, soft=False, km=1.0, ka=1.0):
    """One LTC step. Weights are [in, out] (x @ W + b); km, ka: the gates' sigmoid slopes."""
    u, s, bb = st
    i = x @ W["wx"] + W["bx"]
    if "wr" in W:
        i = i + s @ W["wr"]
    a = sig(km * (np.concatenate([i, u], 1) @ W["wm"] + W["bm"]))
    r = sig(ka * (np.concatenate([i, bb], 1) @ W["wa"] + W["ba"]))
    bb = r * bb + (1 - r) * s
    th = b0 + beta * bb
    up = (1 - a) * u + a * i
    MARGINS.append(np.abs(up - th).min())
    s = (up - th > 0).astype(np.float64)
    u = up - s * th if soft else (1 - s) * up
    return s, (u, s, bb)


def main():
    print("# surrogate derivatives at v =")
    v = np.array([-2.0, -1.0, -0.5, -0.3, -0.1, 0.0, 0.05, 0.2, 0.3, 0.7, 1.5])
    show("V", v)
    for name, f in [("MULTI_GAUSSIAN", multi_gaussian), ("FAST_SIGMOID", fast_sigmoid),
                    ("SIGMOID", sigmoid_sg), ("ARCTAN", arctan_sg), ("TRIANGLE", triangle)]:
        show(name, f(v))
    grid = np.linspace(-40, 40, 800001)
    print("# integrals", {n: float(np.trapezoid(f(grid), grid)) for n, f in
                          [("mg", multi_gaussian), ("fs", fast_sigmoid), ("sig", sigmoid_sg),
                           ("atan", arctan_sg), ("tri", triangle)]})
    print("# g_mg(0) =", multi_gaussian(0.0))

    # ---- LTC hand-built example: batch 2, 2 inputs, 3 neurons ----
    W = {
        "wx": np.array([[0.5, -0.3, 0.8], [0.2, 0.7, -0.4]]),
        "bx": np.array([0.1, 0.0, -0.1]),
        "wm": np.array([[0.3, -0.2, 0.1], [0.0, 0.4, -0.3], [0.2, 0.1, 0.5],
                        [-0.5, 0.2, 0.0], [0.1, -0.1, 0.3], [0.4, 0.0, -0.2]]),
        "bm": np.array([0.05, -0.05, 0.0]),
        "wa": np.array([[0.1, 0.2, -0.1], [-0.3, 0.0, 0.2], [0.0, 0.3, 0.1],
                        [0.2, -0.4, 0.0], [0.0, 0.1, 0.2], [-0.1, 0.0, 0.3]]),
        "ba": np.array([0.0, 0.1, -0.1]),
    }
    x = np.array([[1.0, 0.5], [-0.5, 2.0]])
    u0 = np.array([[0.2, 0.6, 0.1], [0.9, 0.0, 0.4]])
    s0 = np.zeros((2, 3))
    b0 = np.full((2, 3), 0.1)
    s, (u, ss, b) = ltc_step(x, (u0, s0, b0), W)
    print("# feed-forward step")
    show("FF_S", s); show("FF_U", u); show("FF_B", b)

    Wr = dict(W)
    Wr["wr"] = np.array([[0.2, -0.5, 0.3], [0.6, 0.1, -0.2], [-0.3, 0.4, 0.9]])
    s_prev = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    b_prev = np.array([[0.3, 0.1, 0.5], [0.1, 0.4, 0.2]])
    u_prev = np.array([[0.0, 0.8, 0.0], [0.5, 0.0, 0.7]])
    x2 = np.array([[2.0, 1.0], [0.5, 1.5]])
    print("# recurrent step (hard reset, then soft reset)")
    s, (u, _, b) = ltc_step(x2, (u_prev, s_prev, b_prev), Wr)
    show("REC_S", s); show("REC_U", u); show("REC_B", b)
    s, (u, _, b) = ltc_step(x2, (u_prev, s_prev, b_prev), Wr, soft=True)
    show("REC_SOFT_U", u)
    s, (u, _, b) = ltc_step(x2, (u_prev, s_prev, b_prev), Wr, beta=0.0)
    show("REC_NOADAPT_S", s); show("REC_NOADAPT_U", u)
    s, (u, _, b) = ltc_step(x2, (u_prev, s_prev, b_prev), Wr, km=2.0, ka=0.5)
    print("# the same recurrent step with gate slopes k_m = 2, k_a = 0.5")
    show("REC_SLOPE_S", s); show("REC_SLOPE_U", u); show("REC_SLOPE_B", b)

    print("# per-step batch norm of both drives (scale 0.1, shift 0), batch 3, step t = 0")
    x3 = np.array([[2.0, 1.0], [0.5, 1.5], [-1.0, 0.5]])
    u3 = np.array([[0.0, 0.8, 0.0], [0.5, 0.0, 0.7], [0.2, 0.3, 0.1]])
    s3 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    b3 = np.array([[0.3, 0.1, 0.5], [0.1, 0.4, 0.2], [0.2, 0.2, 0.2]])
    eps, momentum, gamma = 1e-5, 0.1, 0.1

    def batch_norm(z, mean, var):
        return gamma * (z - mean) / np.sqrt(var + eps)

    ix = x3 @ Wr["wx"] + Wr["bx"]
    ir = s3 @ Wr["wr"]
    stats = [(z.mean(0), z.var(0)) for z in (ix, ir)]
    running = [((1 - momentum) * 0 + momentum * m, (1 - momentum) * 1 + momentum * z.var(0, ddof=1))
               for (m, _), z in zip(stats, (ix, ir))]
    for tag, (sx, sr) in (("BN_TRAIN", stats), ("BN_EVAL", running)):
        i = batch_norm(ix, *sx) + batch_norm(ir, *sr)
        a = sig(np.concatenate([i, u3], 1) @ Wr["wm"] + Wr["bm"])
        r = sig(np.concatenate([i, b3], 1) @ Wr["wa"] + Wr["ba"])
        bb = r * b3 + (1 - r) * s3
        th = 0.1 + 1.8 * bb
        up = (1 - a) * u3 + a * i
        MARGINS.append(np.abs(up - th).min())
        sp = (up - th > 0).astype(np.float64)
        show(f"{tag}_S", sp); show(f"{tag}_U", (1 - sp) * up); show(f"{tag}_B", bb)
    show("BN_RUNNING_MEAN_INPUT", running[0][0]); show("BN_RUNNING_VAR_INPUT", running[0][1])
    show("BN_RUNNING_MEAN_RECURRENT", running[1][0])
    show("BN_RUNNING_VAR_RECURRENT", running[1][1])

    print("# 5-step recurrent sequence from u = u0, s = 0, b = 0.1")
    xs = np.array([[[1.0, 0.0], [0.5, 0.5], [2.0, -1.0], [0.0, 1.5], [1.0, 1.0]],
                   [[-1.0, 2.0], [0.0, 0.0], [1.5, 1.5], [0.3, -0.2], [2.0, 0.5]]])
    st = (u0, s0, b0)
    spikes = []
    for t in range(5):
        s, st = ltc_step(xs[:, t], st, Wr)
        spikes.append(s)
    show("SEQ_SPIKES", np.stack(spikes, 1)); show("SEQ_U", st[0]); show("SEQ_B", st[2])

    print("# LTC readout: 3 inputs -> 2 classes, 3 steps from m = 0")
    wo = np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]); bo = np.array([0.1, 0.0])
    wk = np.array([[0.2, -0.1], [0.4, 0.3], [-0.2, 0.5], [0.1, 0.0]]); bk = np.array([0.0, 0.2])
    xr = np.array([[[1, 0, 1], [0, 1, 1], [1, 1, 0]], [[0, 0, 1], [1, 0, 0], [0, 1, 0]]], float)
    m = np.zeros((2, 2)); ms = []
    for t in range(3):
        d = xr[:, t] @ wo + bo
        k = sig(np.concatenate([d, m], 1) @ wk + bk)
        m = (1 - k) * m + k * d
        ms.append(m)
    show("READOUT_M", np.stack(ms, 1))

    print("# Leaky readout, tau = [2, 5], same inputs and W_o")
    tau = np.array([2.0, 5.0]); kk = np.exp(-1 / tau); m = np.zeros((2, 2)); ms = []
    for t in range(3):
        m = kk * m + (1 - kk) * (xr[:, t] @ wo + bo); ms.append(m)
    show("LEAKY_M", np.stack(ms, 1))

    print("# LTC readout with per-step batch norm of the drive (scale 0.1), batch 3, one step")
    x3r = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], float)
    d = x3r @ wo + bo
    d = 0.1 * (d - d.mean(0)) / np.sqrt(d.var(0) + 1e-5)
    k = sig(np.concatenate([d, np.zeros((3, 2))], 1) @ wk + bk)
    show("READOUT_BN_M", k * d)

    print("# LIF / ALIF (2 inputs, 3 neurons, recurrent), 4 steps from u = 0, s = 0, b = 0")
    tm = np.array([2.0, 4.0, 8.0]); ta = np.array([3.0, 10.0, 30.0])
    xs4 = np.array([[[1.0, 0.5], [2.0, 1.0], [0.0, 0.0], [1.5, 2.0]],
                    [[0.5, 0.5], [3.0, -1.0], [1.0, 1.0], [0.0, 2.0]]])
    for adaptive in (False, True):
        u = np.zeros((2, 3)); s = np.zeros((2, 3)); bb = np.zeros((2, 3)); out = []
        al = np.exp(-1 / tm); rho = np.exp(-1 / ta)
        for t in range(4):
            i = xs4[:, t] @ W["wx"] + W["bx"] + s @ Wr["wr"]
            if adaptive:
                bb = rho * bb + (1 - rho) * s
            th = 0.1 + (1.8 * bb if adaptive else 0)
            up = al * u + (1 - al) * i
            MARGINS.append(np.abs(up - th).min())
            s = (up - th > 0).astype(float)
            u = (1 - s) * up
            out.append(s)
        tag = "ALIF" if adaptive else "LIF"
        show(f"{tag}_SPIKES", np.stack(out, 1)); show(f"{tag}_U", u)
        if adaptive:
            show("ALIF_B", bb)
    print("# current-based LIF (tests/cell.rs): i = a_s i + (1 - a_s) (x W_x + b),")
    print("# v' = a_m v + (1 - a_m) i, s = [v' > 0.1], v = (1 - s) v'; a_s = 0.5, a_m = 0.8")
    xs3 = np.array([[[1.0, 0.5], [2.0, 1.0], [0.0, 1.5]], [[-0.5, 2.0], [1.5, 1.5], [3.0, 0.0]]])

    def cuba(wr=None):
        i = np.zeros((2, 3)); v = np.zeros((2, 3)); s = np.zeros((2, 3)); out = []
        for t in range(3):
            drive = xs3[:, t] @ W["wx"] + W["bx"]
            if wr is not None:
                drive = drive + s @ wr
            i = 0.5 * i + 0.5 * drive
            vp = 0.8 * v + 0.2 * i
            MARGINS.append(np.abs(vp - 0.1).min())
            s = (vp > 0.1).astype(float)
            v = (1 - s) * vp
            out.append(s)
        return np.stack(out, 1), i, v

    spikes, i, v = cuba()
    show("CUBA_SPIKES", spikes); show("CUBA_I", i); show("CUBA_V", v)
    print("# the same with the recurrent matrix W_r (I = x W_x + b + s W_r)")
    spikes, i, v = cuba(Wr["wr"])
    show("CUBA_REC_SPIKES", spikes); show("CUBA_REC_I", i); show("CUBA_REC_V", v)
    print("# smallest |u' - threshold| over all cases:", min(MARGINS))
    assert min(MARGINS) > 1e-3, "a spike decision is too close to its threshold for f32"


def fptt_tiny():
    """FPTT on a 2-parameter linear model y = w . x with SGD, loss (t+1)/T (w.x_t - y_t)^2."""
    alpha, beta, lr = 0.5, 0.5, 0.1
    xs = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.5], [-1.0, 1.0]])
    ys = np.array([1.0, 0.0, -1.0, 0.5])

    def run(T, K, clip=None, paper=False):
        w = np.array([0.5, -0.3]); wbar = w.copy(); lam = np.zeros(2)
        chunk = -(-T // K)
        out = []
        for start in range(0, T, chunk):
            g = np.zeros(2)
            for t in range(start, min(start + chunk, T)):
                g += (t + 1) / T * 2 * (w @ xs[t] - ys[t]) * xs[t]
            g = g + alpha * (w - wbar) - (0.5 if paper else 1.0) * lam
            if clip is not None:
                g = g * min(1.0, clip / (np.linalg.norm(g) + 1e-6))
            w = w - lr * g
            lam = lam - alpha * (w - wbar)
            wbar = (1 - beta) * wbar + beta * w - (beta / alpha) * lam
            out.append(np.concatenate([w, wbar, lam]))
        return np.array(out)

    print("# FPTT tiny problem: rows are [w1, w2, wbar1, wbar2, lambda1, lambda2] after each update")
    show("FPTT_K_EQ_T", run(3, 3))
    show("FPTT_K_LT_T", run(4, 2))
    show("FPTT_CLIPPED", run(3, 3, clip=0.5))
    show("FPTT_PAPER", run(3, 3, paper=True))


def fptt_learner():
    """The learner on a stateless 2-class model scores_t = x_t W (W is [2, 2], no bias), batch 2,
    T = 4, linear-ramp cross-entropy, SGD lr 0.1, alpha 0.1, beta 0.5, no clipping."""
    alpha, beta, lr = 0.1, 0.5, 0.1
    x = np.array([[[1.0, 0.0], [0.5, 1.0], [-1.0, 2.0], [0.3, 0.3]],
                  [[0.0, 1.0], [1.0, -1.0], [2.0, 0.5], [-0.5, 1.0]]])
    y = np.array([1, 0])
    T = 4

    def ce_grad(W, xt):
        logits = xt @ W
        p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        onehot = np.eye(2)[y]
        return xt.T @ (p - onehot) / len(y)  # d mean CE / dW

    def soft_ce_grad(W, xt, q):
        """d/dW of -mean_b sum_c q log softmax(x W)."""
        logits = xt @ W
        p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        return xt.T @ (p - q) / len(q)

    def probs(W, xt):
        logits = xt @ W
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def distribution_grad(W, xt, q):
        """d/dW of mean over batch and classes of -q log softmax(x W); a zero row of q adds 0."""
        p = probs(W, xt)
        return xt.T @ (p * q.sum(1, keepdims=True) - q) / q.size

    def run(K, gamma=None, dist=None, batches=1):
        W = np.array([[0.2, -0.1], [0.4, 0.3]]); Wbar = W.copy(); lam = np.zeros((2, 2))
        chunk = -(-T // K)
        table = np.zeros((T, 2, 2))  # [step, class, class]
        for _ in range(batches):
            prev = None
            for start in range(0, T, chunk):
                g = np.zeros((2, 2))
                for t in range(start, min(start + chunk, T)):
                    g += (t + 1) / T * ce_grad(W, x[:, t])
                    if gamma is not None:
                        if prev is not None and 1 - (t + 1) / T > 0:
                            g += gamma * (1 - (t + 1) / T) * soft_ce_grad(W, x[:, t], prev)
                        prev = probs(W, x[:, t])
                    if dist is not None and t + 1 < T:
                        g += dist * (1 - (t + 1) / T) * distribution_grad(W, x[:, t], table[t][y])
                        p = probs(W, x[:, t])
                        for c in range(2):
                            wrong = [b for b in range(len(y)) if y[b] == c and p[b].argmax() != c]
                            if wrong:
                                table[t][c] = p[wrong[0]]
                g = g + alpha * (W - Wbar) - lam
                W = W - lr * g
                lam = lam - alpha * (W - Wbar)
                Wbar = (1 - beta) * Wbar + beta * W - (beta / alpha) * lam
        return W, Wbar, lam, table

    print("# FPTT learner on a stateless linear classifier: W, Wbar, lambda after one batch")
    for K in (4, 2):
        W, Wbar, lam, _ = run(K)
        show(f"LEARNER_K{K}_W", W); show(f"LEARNER_K{K}_WBAR", Wbar); show(f"LEARNER_K{K}_LAMBDA", lam)
    print("# the same, K = 4, with the terminal-prediction term, gamma = 0.5")
    W, Wbar, lam, _ = run(4, gamma=0.5)
    show("LEARNER_TERMINAL_W", W)
    print("# K = 4, two batches (the same one twice) with the distribution loss, weight 2")
    W, Wbar, lam, table = run(4, dist=2.0, batches=2)
    show("LEARNER_DISTRIBUTION_W", W)
    show("LEARNER_DISTRIBUTION_TABLE", table)
    W, _, _, _ = run(4, batches=2)
    show("LEARNER_TWO_BATCHES_W", W)


def conv2d_same(x, w, b):
    """Cross-correlation with zero padding k // 2 (PyTorch's and burn's conv2d): x [C_in, H, W],
    w [C, C_in, k, k], b [C]."""
    c, cin, k, _ = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    h, wd = x.shape[1:]
    out = np.zeros((c, h, wd))
    for o in range(c):
        for r in range(h):
            for q in range(wd):
                out[o, r, q] = (xp[:, r:r + k, q:q + k] * w[o]).sum() + b[o]
    return out


def conv_ltc_case(xs, wx, bx, wt, bt, pool):
    """ConvLtc (tests/conv.rs): d = pool(W_x * x + b_x), g = sig(W_t * (d + u) + b_t),
    u' = u + g (d - u), s = [u' > 0.5], u = (1 - s) u'. One sample, steps along xs."""
    u = None
    out = []
    for x in xs:
        d = conv2d_same(x, wx, bx)
        if pool > 1:
            c, h, w = d.shape
            d = d.reshape(c, h // pool, pool, w // pool, pool).mean(axis=(2, 4))
        if u is None:
            u = np.zeros_like(d)
        g = sig(conv2d_same(d + u, wt, bt))
        up = u + g * (d - u)
        MARGINS.append(np.abs(up - 0.5).min())
        s = (up > 0.5).astype(float)
        u = (1 - s) * up
        out.append(s.reshape(-1))
    return np.stack(out), u.reshape(-1)


def conv_ltc():
    print("# ConvLtc, 1 -> 2 channels on 3 x 3 frames, kernel 3, 3 steps (tests/conv.rs)")
    wx = ((np.arange(18).reshape(2, 1, 3, 3) * 7 % 11) - 5.0) / 8.0
    bx = np.array([0.1, -0.1])
    wt = ((np.arange(36).reshape(2, 2, 3, 3) * 5 % 13) - 6.0) / 10.0
    bt = np.array([0.0, 0.2])
    xs = [((np.arange(9).reshape(1, 3, 3) * (t + 3) % 7) - 2.0) / 2.0 for t in range(3)]
    spikes, u = conv_ltc_case(xs, wx, bx, wt, bt, 1)
    show("CONV_SPIKES", spikes); show("CONV_U", u)
    print("# pooled: 1 -> 1 channel on 4 x 4 frames, pool 2, 2 steps")
    wx1 = wx[:1]; bx1 = np.array([0.3]); wt1 = wt[:1, :1]; bt1 = np.array([-0.1])
    xs = [((np.arange(16).reshape(1, 4, 4) * (t + 2) % 5) - 1.0) / 1.5 for t in range(2)]
    spikes, u = conv_ltc_case(xs, wx1, bx1, wt1, bt1, 2)
    show("CONV_POOL_SPIKES", spikes); show("CONV_POOL_U", u)
    print("# smallest |u' - threshold| over the ConvLtc cases:", min(MARGINS))
    assert min(MARGINS) > 1e-3, "a spike decision is too close to its threshold for f32"


if __name__ == "__main__":
    main()
    fptt_tiny()
    conv_ltc()
    fptt_learner()
