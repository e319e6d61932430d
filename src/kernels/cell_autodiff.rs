//! [`CellOps`] under autodiff: each operation is one graph node whose backward pass is written by
//! hand and keeps only the tensors its derivative needs.
//!
//! The tensors a node keeps are its parents' outputs (checkpointed by id, so nothing is copied)
//! or, for the logistic and the spike, one tensor of its own. Products keep an operand only when
//! the other operand is tracked, as burn's own `matmul` does.

use burn::backend::autodiff::{
    Autodiff, NodeId,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::{AutodiffBackend, tensor::FloatTensor};

use super::cell::{CellOps, Threshold};
use super::update::MultiGaussianTerms;

/// The gradient of a bias `[n]` added to every row of a `[batch, n]` output.
fn bias_gradient<B: CellOps>(g: FloatTensor<B>) -> FloatTensor<B> {
    super::cell::reference::column_sums::<B>(g)
}

fn retrieve<B: CellOps>(
    checkpointer: &mut Checkpointer,
    id: Option<NodeId>,
) -> Option<FloatTensor<B>> {
    id.map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id))
}

/// Registers the gradients of `x` and `W` in a product `x W` whose output gradient is `g`.
fn product_gradients<B: CellOps>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; 2],
    operands: [Option<FloatTensor<B>>; 2],
    g: &FloatTensor<B>,
) {
    let [x_node, w_node] = parents;
    let [x, w] = operands;
    if let Some(id) = x_node {
        let w = w.expect("kept when x is tracked");
        grads.register::<B>(id, B::product_with_transposed(g.clone(), w));
    }
    if let Some(id) = w_node {
        let x = x.expect("kept when W is tracked");
        grads.register::<B>(id, B::transposed_product(x, g.clone()));
    }
}

/// Registers the gradients of `x₁ W₁ + x₂ W₂ + b` whose output gradient is `g`: the products' of
/// the operands `kept` (each kept when its partner is tracked), then the bias's, `bias()`, when
/// the bias is tracked.
fn pair_gradients<B: CellOps>(
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
    kept: [Option<NodeId>; 4],
    parents: [Option<NodeId>; 5],
    g: &FloatTensor<B>,
    bias: impl FnOnce() -> FloatTensor<B>,
) {
    let [x1, w1, x2, w2] = kept.map(|id| retrieve::<B>(checkpointer, id));
    let [x1_node, w1_node, x2_node, w2_node, b_node] = parents;
    product_gradients::<B>(grads, [x1_node, w1_node], [x1, w1], g);
    product_gradients::<B>(grads, [x2_node, w2_node], [x2, w2], g);
    if let Some(id) = b_node {
        grads.register::<B>(id, bias());
    }
}

/// Records `forward` of the operands `x₁, W₁, x₂, W₂, b` and any after them as one node of
/// `backward`, keeping each of the first four whose partner is tracked; `state` makes the node's
/// state from those, the output and what else `forward` returned, which is returned beside the
/// node's output.
fn record_pair<B, C, N, X, const K: usize>(
    backward: N,
    operands: [FloatTensor<Autodiff<B, C>>; K],
    forward: impl FnOnce([FloatTensor<B>; K]) -> (FloatTensor<B>, X),
    state: impl FnOnce([Option<NodeId>; 4], &FloatTensor<B>, &X) -> N::State,
) -> (FloatTensor<Autodiff<B, C>>, X)
where
    B: CellOps,
    C: CheckpointStrategy,
    N: Backward<B, K>,
{
    let tracked = [0, 1, 2, 3].map(|i| operands[i].is_tracked());
    let nodes = operands.each_ref().map(|operand| operand.node());
    match backward.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            // An operand is kept when its partner (x with W, W with x) is tracked.
            let kept = [1, 0, 3, 2].map(|partner| {
                let own = partner ^ 1;
                tracked[partner].then(|| prep.checkpoint(&operands[own]))
            });
            let (out, extra) = forward(operands.map(|operand| operand.into_primitive()));
            (prep.finish(state(kept, &out, &extra), out), extra)
        }
        OpsKind::UnTracked(prep) => {
            let (out, extra) = forward(operands.map(|operand| operand.into_primitive()));
            (prep.finish(out), extra)
        }
    }
}

#[derive(Debug)]
struct AffineBackward;

impl<B: CellOps> Backward<B, 3> for AffineBackward {
    /// `x` (kept when `W` is tracked), `W` (kept when `x` is tracked).
    type State = (Option<NodeId>, Option<NodeId>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (x, w) = ops.state;
        let operands = [
            retrieve::<B>(checkpointer, x),
            retrieve::<B>(checkpointer, w),
        ];
        let g = grads.consume::<B>(&ops.node);
        let [x_node, w_node, b_node] = ops.parents.map(|node| node.map(|node| node.id));
        product_gradients::<B>(grads, [x_node, w_node], operands, &g);
        if let Some(id) = b_node {
            grads.register::<B>(id, bias_gradient::<B>(g));
        }
    }
}

#[derive(Debug)]
struct ProductBackward;

impl<B: CellOps> Backward<B, 2> for ProductBackward {
    /// `x` (kept when `W` is tracked), `W` (kept when `x` is tracked).
    type State = (Option<NodeId>, Option<NodeId>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (x, w) = ops.state;
        let operands = [
            retrieve::<B>(checkpointer, x),
            retrieve::<B>(checkpointer, w),
        ];
        let g = grads.consume::<B>(&ops.node);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        product_gradients::<B>(grads, parents, operands, &g);
    }
}

#[derive(Debug)]
struct AffinePairBackward;

impl<B: CellOps> Backward<B, 5> for AffinePairBackward {
    /// `x₁`, `W₁`, `x₂`, `W₂` (each kept when its partner is tracked).
    type State = [Option<NodeId>; 4];

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let g = grads.consume::<B>(&ops.node);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        pair_gradients::<B>(grads, checkpointer, ops.state, parents, &g, || {
            bias_gradient::<B>(g.clone())
        });
    }
}

#[derive(Debug)]
struct GateBackward;

impl<B: CellOps> Backward<B, 5> for GateBackward {
    /// `x₁`, `W₁`, `x₂`, `W₂` (each kept when its partner is tracked), and the output `y`.
    type State = ([Option<NodeId>; 4], FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (kept, y) = ops.state;
        let g = grads.consume::<B>(&ops.node);
        let (to_z, to_bias) = B::gate_gradients(y, g);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        pair_gradients::<B>(grads, checkpointer, kept, parents, &to_z, || to_bias);
    }
}

#[derive(Debug)]
struct GatedBlendBackward;

impl<B: CellOps> Backward<B, 7> for GatedBlendBackward {
    /// `x₁`, `W₁`, `x₂`, `W₂` (each kept when its partner is tracked), the gate's value `w`,
    /// `a` and `c`.
    type State = (
        [Option<NodeId>; 4],
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 7>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (kept, w, a, c) = ops.state;
        let g = grads.consume::<B>(&ops.node);
        let [x1, w1, x2, w2, bias, a_node, c_node] = ops.parents.map(|node| node.map(|n| n.id));
        if let Some(id) = a_node {
            grads.register::<B>(id, B::blend_gradient_start(g.clone(), w.clone()));
        }
        let (to_z, to_bias, to_c) = B::gated_blend_gradients(g, w, a, c);
        pair_gradients::<B>(
            grads,
            checkpointer,
            kept,
            [x1, w1, x2, w2, bias],
            &to_z,
            || to_bias,
        );
        if let Some(id) = c_node {
            grads.register::<B>(id, to_c);
        }
    }
}

#[derive(Debug)]
struct LogisticBackward;

impl<B: CellOps> Backward<B, 1> for LogisticBackward {
    /// The output `y`.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<B>(&ops.node);
        let [z_node] = ops.parents;
        if let Some(node) = z_node {
            grads.register::<B>(node.id, B::logistic_gradient(ops.state, g));
        }
    }
}

#[derive(Debug)]
struct BlendBackward;

impl<B: CellOps> Backward<B, 3> for BlendBackward {
    /// `a` and `b` (kept when `w` is tracked), `w` (kept when `a` or `b` is).
    type State = [Option<NodeId>; 3];

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [a, b, w] = ops.state.map(|id| retrieve::<B>(checkpointer, id));
        let g = grads.consume::<B>(&ops.node);
        let [a_node, b_node, w_node] = ops.parents;
        if let Some(node) = a_node {
            let w = w.clone().expect("kept when a is tracked");
            grads.register::<B>(node.id, B::blend_gradient_start(g.clone(), w));
        }
        match (b_node, w_node) {
            (Some(b_node), Some(w_node)) => {
                let (a, b) = (a.expect("kept when w is tracked"), b.expect("kept"));
                let w = w.expect("kept when b is tracked");
                let (to_b, to_w) = B::blend_gradients(g, a, b, w);
                grads.register::<B>(b_node.id, to_b);
                grads.register::<B>(w_node.id, to_w);
            }
            (Some(node), None) => {
                let w = w.expect("kept when b is tracked");
                grads.register::<B>(node.id, B::float_mul(g, w));
            }
            (None, Some(node)) => {
                let (a, b) = (a.expect("kept when w is tracked"), b.expect("kept"));
                grads.register::<B>(node.id, B::blend_gradient_fraction(g, a, b));
            }
            (None, None) => {}
        }
    }
}

#[derive(Debug)]
struct ThresholdGapBackward;

impl<B: CellOps> Backward<B, 2> for ThresholdGapBackward {
    /// The adaptation strength `β`.
    type State = f64;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<B>(&ops.node);
        let [pre_node, adaptation_node] = ops.parents;
        if let Some(node) = adaptation_node {
            // `(−g) β` to the bit: the sign of a product is exact.
            let to_adaptation = B::float_mul_scalar(g.clone(), (-ops.state).into());
            grads.register::<B>(node.id, to_adaptation);
        }
        if let Some(node) = pre_node {
            grads.register::<B>(node.id, g);
        }
    }
}

#[derive(Debug)]
struct FireBackward;

impl<B: CellOps> Backward<B, 2> for FireBackward {
    /// The surrogate's slope `g(v)` and the adaptation strength `β`.
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<B>(&ops.node);
        let (slope, beta) = ops.state;
        let (to_pre, to_adaptation) = B::fire_gradients(g, slope, beta);
        let [pre_node, adaptation_node] = ops.parents;
        if let Some(node) = adaptation_node {
            grads.register::<B>(node.id, to_adaptation);
        }
        if let Some(node) = pre_node {
            grads.register::<B>(node.id, to_pre);
        }
    }
}

#[derive(Debug)]
struct HardResetBackward;

impl<B: CellOps> Backward<B, 2> for HardResetBackward {
    /// `pre` and the spikes (both kept when either is tracked).
    type State = [Option<NodeId>; 2];

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [pre, spikes] = ops.state.map(|id| retrieve::<B>(checkpointer, id));
        let g = grads.consume::<B>(&ops.node);
        let (pre, spikes) = (pre.expect("kept"), spikes.expect("kept"));
        let (to_pre, to_spikes) = B::hard_reset_gradients(g, pre, spikes);
        let [pre_node, spikes_node] = ops.parents;
        if let Some(node) = pre_node {
            grads.register::<B>(node.id, to_pre);
        }
        if let Some(node) = spikes_node {
            grads.register::<B>(node.id, to_spikes);
        }
    }
}

#[derive(Debug)]
struct SpikeBackward;

impl<B: CellOps> Backward<B, 2> for SpikeBackward {
    /// The surrogate's slope `g(v)`.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let g = grads.consume::<B>(&ops.node);
        let [v_node, _slope_is_a_constant] = ops.parents;
        if let Some(node) = v_node {
            grads.register::<B>(node.id, B::float_mul(g, ops.state));
        }
    }
}

impl<B: CellOps, C: CheckpointStrategy> CellOps for Autodiff<B, C> {
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x_tracked, w_tracked) = (x.is_tracked(), w.is_tracked());
        let prep = AffineBackward.prepare::<C>([x.node(), w.node(), b.node()]);
        match prep.compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    w_tracked.then(|| prep.checkpoint(&x)),
                    x_tracked.then(|| prep.checkpoint(&w)),
                );
                let out = B::affine(x.into_primitive(), w.into_primitive(), b.into_primitive());
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::affine(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
            )),
        }
    }

    fn product(x: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x_tracked, w_tracked) = (x.is_tracked(), w.is_tracked());
        let prep = ProductBackward.prepare::<C>([x.node(), w.node()]);
        match prep.compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    w_tracked.then(|| prep.checkpoint(&x)),
                    x_tracked.then(|| prep.checkpoint(&w)),
                );
                let out = B::product(x.into_primitive(), w.into_primitive());
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::product(x.into_primitive(), w.into_primitive()))
            }
        }
    }

    fn affine_pair(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        record_pair::<B, C, _, _, 5>(
            AffinePairBackward,
            [x1, w1, x2, w2, b],
            |[x1, w1, x2, w2, b]| (B::affine_pair(x1, w1, x2, w2, b), ()),
            |kept, _, _| kept,
        )
        .0
    }

    fn gate(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        record_pair::<B, C, _, _, 5>(
            GateBackward,
            [x1, w1, x2, w2, b],
            |[x1, w1, x2, w2, b]| (B::gate(x1, w1, x2, w2, b), ()),
            |kept, y, _| (kept, y.clone()),
        )
        .0
    }

    fn gated_blend(
        x1: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        x2: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        a: FloatTensor<Self>,
        c: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        if !B::FUSED_GATED_BLEND {
            // The gate's node and the blend's, as before this node existed.
            let w = Self::gate(x1, w1, x2, w2, bias);
            return (Self::blend(a, c, w.clone()), w);
        }
        let (out, w) = record_pair::<B, C, _, _, 7>(
            GatedBlendBackward,
            [x1, w1, x2, w2, bias, a, c],
            |[x1, w1, x2, w2, bias, a, c]| {
                let (out, w) = B::gated_blend(x1, w1, x2, w2, bias, a.clone(), c.clone());
                (out, (w, a, c))
            },
            |kept, _, (w, a, c)| (kept, w.clone(), a.clone(), c.clone()),
        );
        (out, Self::from_inner(w.0))
    }

    fn logistic(z: FloatTensor<Self>) -> FloatTensor<Self> {
        match LogisticBackward
            .prepare::<C>([z.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::logistic(z.into_primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::logistic(z.into_primitive())),
        }
    }

    fn blend(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        w: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let ends_tracked = a.is_tracked() || b.is_tracked();
        let w_tracked = w.is_tracked();
        match BlendBackward
            .prepare::<C>([a.node(), b.node(), w.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let kept = [
                    w_tracked.then(|| prep.checkpoint(&a)),
                    w_tracked.then(|| prep.checkpoint(&b)),
                    ends_tracked.then(|| prep.checkpoint(&w)),
                ];
                let out = B::blend(a.into_primitive(), b.into_primitive(), w.into_primitive());
                prep.finish(kept, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::blend(
                a.into_primitive(),
                b.into_primitive(),
                w.into_primitive(),
            )),
        }
    }

    fn threshold_gap(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        beta: f64,
        base: f64,
    ) -> FloatTensor<Self> {
        let nodes = [pre.node(), adaptation.node()];
        let forward = |pre: FloatTensor<Self>, adaptation: FloatTensor<Self>| {
            B::threshold_gap(
                pre.into_primitive(),
                adaptation.into_primitive(),
                beta,
                base,
            )
        };
        match ThresholdGapBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(beta, forward(pre, adaptation)),
            OpsKind::UnTracked(prep) => prep.finish(forward(pre, adaptation)),
        }
    }

    fn fire_multi_gaussian(
        pre: FloatTensor<Self>,
        adaptation: FloatTensor<Self>,
        threshold: Threshold,
        terms: MultiGaussianTerms,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [pre.node(), adaptation.node()];
        let (spikes, slope) = B::fire_multi_gaussian(
            pre.into_primitive(),
            adaptation.into_primitive(),
            threshold,
            terms,
        );
        let spikes = match FireBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((slope.clone(), threshold.beta), spikes),
            OpsKind::UnTracked(prep) => prep.finish(spikes),
        };
        (spikes, Self::from_inner(slope))
    }

    fn hard_reset(pre: FloatTensor<Self>, spikes: FloatTensor<Self>) -> FloatTensor<Self> {
        if !B::FUSED_HARD_RESET {
            return super::cell::reference::hard_reset::<Self>(pre, spikes);
        }
        match HardResetBackward
            .prepare::<C>([pre.node(), spikes.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let kept = [Some(prep.checkpoint(&pre)), Some(prep.checkpoint(&spikes))];
                let out = B::hard_reset(pre.into_primitive(), spikes.into_primitive());
                prep.finish(kept, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::hard_reset(pre.into_primitive(), spikes.into_primitive()))
            }
        }
    }

    fn spike(v: FloatTensor<Self>, slope: FloatTensor<Self>) -> FloatTensor<Self> {
        match SpikeBackward
            .prepare::<C>([v.node(), slope.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let slope = slope.into_primitive();
                let out = B::spike(v.into_primitive(), slope.clone());
                prep.finish(slope, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::spike(v.into_primitive(), slope.into_primitive()))
            }
        }
    }
}
