//! A gate over a drive and a state: `drive W_d + state W_s + b`.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{Gradients, Tensor};

use crate::math::sigmoid;

/// The pre-activation of a gate over the concatenation `[drive ; state]`: `[drive ; state] W + b`,
/// computed as `drive W_d + state W_s + b` with the two row blocks of `W` kept as two parameters.
///
/// This is the same function as a `Linear` over the concatenation, and its parameters start as
/// that `Linear`'s (see [`from_linear`](Self::from_linear)), but nothing is concatenated: the
/// forward pass copies no `[batch, d_drive + d_state]` input, and when the state takes no part in
/// the backward pass (FPTT detaches it before every update) the backward pass computes no input
/// gradient for it, a quarter of the gate's backward products.
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::neuron::Gate;
///
/// let device = burn_fptt::default_device();
/// let gate = Gate::from_linear(burn::nn::LinearConfig::new(3, 2).init(&device), 1);
/// let (drive, state) = (Tensor::<2>::ones([4, 1], &device), Tensor::<2>::ones([4, 2], &device));
/// assert_eq!(gate.forward(drive, state).dims(), [4, 2]);
/// assert_eq!(gate.weight().dims(), [3, 2]);
/// ```
#[derive(Module, Debug)]
pub struct Gate {
    /// `W_d`: the rows of `W` for the drive, `[d_drive, d_out]`.
    pub drive_weight: Param<Tensor<2>>,
    /// `W_s`: the rows of `W` for the state, `[d_state, d_out]`.
    pub state_weight: Param<Tensor<2>>,
    /// `b`, `[d_out]`, if any.
    pub bias: Option<Param<Tensor<1>>>,
    /// The learnable slope `k` of the gate's sigmoid, `σ(k z)`, one scalar (`[1]`) for the
    /// whole gate, when the gate has one (the method's `sigmoid_beta`, initialised to 1).
    pub slope: Option<Param<Tensor<1>>>,
}

impl Gate {
    /// The gate of a `Linear` over `[drive ; state]` whose first `d_drive` input rows take the
    /// drive: its weight split into `W_d` and `W_s`, its bias kept.
    ///
    /// # Panics
    ///
    /// When `d_drive` is 0 or not below the `Linear`'s input width.
    pub fn from_linear(linear: Linear, d_drive: usize) -> Self {
        let [rows, out] = linear.weight.dims();
        assert!(
            d_drive > 0 && d_drive < rows,
            "Gate::from_linear: the drive width {d_drive} must be in 1..{rows} (the Linear's input width)"
        );
        let weight = linear.weight.val().detach();
        let block = |range: std::ops::Range<usize>| {
            Param::from_tensor(weight.clone().slice([range, 0..out]).detach())
        };
        Self {
            drive_weight: block(0..d_drive),
            state_weight: block(d_drive..rows),
            bias: linear.bias,
            slope: None,
        }
    }

    /// The same gate with a learnable sigmoid slope `k`, initialised to `initial` (the method
    /// uses 1: the gate starts as the plain sigmoid and learns how sharp to be).
    pub fn with_slope(mut self, initial: f64) -> Self {
        let device = self.drive_weight.device();
        self.slope = Some(Param::from_tensor(Tensor::full([1], initial, &device)));
        self
    }

    /// Width of the drive.
    pub fn d_drive(&self) -> usize {
        self.drive_weight.dims()[0]
    }

    /// Width of the state.
    pub fn d_state(&self) -> usize {
        self.state_weight.dims()[0]
    }

    /// The whole weight `W = [W_d ; W_s]`, `[d_drive + d_state, d_out]` (a copy, for inspection).
    pub fn weight(&self) -> Tensor<2> {
        Tensor::cat(vec![self.drive_weight.val(), self.state_weight.val()], 0)
    }

    /// The gradient of the whole weight, `[dW_d ; dW_s]`, when `grads` has one for both blocks.
    pub fn weight_grad(&self, grads: &Gradients) -> Option<Tensor<2>> {
        let blocks = vec![
            self.drive_weight.grad(grads)?,
            self.state_weight.grad(grads)?,
        ];
        Some(Tensor::cat(blocks, 0))
    }

    /// `drive W_d + state W_s + b` for `drive` `[batch, d_drive]` and `state` `[batch, d_state]`.
    ///
    /// # Panics
    ///
    /// When the widths do not match the weights or the batches differ.
    pub fn forward(&self, drive: Tensor<2>, state: Tensor<2>) -> Tensor<2> {
        crate::kernels::affine_pair(
            drive,
            self.drive_weight.val(),
            state,
            self.state_weight.val(),
            self.bias.as_ref().map(Param::val),
        )
    }

    /// The gate's value in `(0, 1)`: `σ(z)`, or `σ(k z)` with a [slope](Self::with_slope), for
    /// `z` = [`forward`](Self::forward)`(drive, state)`.
    ///
    /// # Panics
    ///
    /// As [`forward`](Self::forward).
    pub fn activate(&self, drive: Tensor<2>, state: Tensor<2>) -> Tensor<2> {
        match (&self.slope, &self.bias) {
            (None, Some(bias)) => crate::kernels::gate(
                drive,
                self.drive_weight.val(),
                state,
                self.state_weight.val(),
                bias.val(),
            ),
            (Some(slope), _) => sigmoid(self.forward(drive, state) * slope.val().unsqueeze::<2>()),
            (None, None) => sigmoid(self.forward(drive, state)),
        }
    }

    /// `start + g (end − start)` for the gate's value `g` = [`activate`](Self::activate)`(drive,
    /// state)`: `start` moved towards `end` (each `[batch, d_out]`) by the gate, one graph node
    /// on wgpu (the gate's and the blend's elsewhere, the same values).
    ///
    /// # Panics
    ///
    /// As [`forward`](Self::forward), or when `start` and `end` are not `[batch, d_out]`.
    pub fn blend(
        &self,
        drive: Tensor<2>,
        state: Tensor<2>,
        start: Tensor<2>,
        end: Tensor<2>,
    ) -> Tensor<2> {
        let expected = [drive.dims()[0], self.drive_weight.dims()[1]];
        for (name, tensor) in [("start", &start), ("end", &end)] {
            assert_eq!(
                tensor.dims(),
                expected,
                "Gate::blend: `{name}` must be [batch, d_out] = {expected:?}, got {:?}",
                tensor.dims()
            );
        }
        match (&self.slope, &self.bias) {
            (None, Some(bias)) => crate::kernels::gated_blend(
                drive,
                self.drive_weight.val(),
                state,
                self.state_weight.val(),
                bias.val(),
                start,
                end,
            ),
            _ => crate::kernels::blend(start, end, self.activate(drive, state)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    fn close(actual: &[f32], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, b) in actual.iter().zip(expected) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-5,
                "{actual:?} vs {expected:?}"
            );
        }
    }

    /// The gate of a `Linear` over `[drive (2) ; state (2)]` to 3 outputs, with a bias.
    fn example_gate(device: &burn::tensor::Device) -> Gate {
        let linear = Linear {
            weight: Param::from_tensor(Tensor::<2>::from_floats(
                [
                    [0.5, -1.0, 0.25],
                    [2.0, 0.0, -0.5],
                    [1.5, 0.75, -2.0],
                    [-0.25, 1.0, 3.0],
                ],
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_floats(
                [0.1, -0.2, 0.3],
                device,
            ))),
        };
        Gate::from_linear(linear, 2)
    }

    /// `start + σ(z) (end − start)`, by hand for the example gate with a zero drive and state
    /// (so `z = b` and the gate is `σ(b)`), with and without a slope (the two paths).
    #[test]
    fn blend_moves_start_towards_end_by_the_gate() {
        let device = crate::default_device().autodiff();
        for gate in [example_gate(&device), example_gate(&device).with_slope(1.0)] {
            let zeros = Tensor::<2>::zeros([1, 2], &device);
            let start = Tensor::<2>::from_floats([[1.0, 2.0, -1.0]], &device);
            let end = Tensor::<2>::from_floats([[3.0, 2.0, 1.0]], &device);
            let blended = gate.blend(zeros.clone(), zeros, start, end);
            let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
            close(
                &values(blended),
                &[1.0 + sigma(0.1) * 2.0, 2.0, -1.0 + sigma(0.3) * 2.0],
            );
        }
    }

    #[test]
    #[should_panic(expected = "`end` must be [batch, d_out] = [1, 3], got [1, 2]")]
    fn blend_names_a_start_or_end_of_another_shape() {
        let device = crate::default_device().autodiff();
        let gate = example_gate(&device);
        let zeros = Tensor::<2>::zeros([1, 2], &device);
        let start = Tensor::<2>::zeros([1, 3], &device);
        gate.blend(zeros.clone(), zeros.clone(), start, zeros);
    }

    #[test]
    fn gate_is_the_product_over_the_concatenation_and_skips_a_detached_state() {
        let device = crate::default_device().autodiff();
        let gate = example_gate(&device);
        assert_eq!((gate.d_drive(), gate.d_state()), (2, 2));
        close(
            &values(gate.weight()),
            &[
                0.5, -1.0, 0.25, 2.0, 0.0, -0.5, 1.5, 0.75, -2.0, -0.25, 1.0, 3.0,
            ],
        );
        let drive = Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 3.0]], &device).require_grad();
        let state = Tensor::<2>::from_floats([[-1.0, 0.25], [2.0, -0.5]], &device);
        // [drive ; state] W + b, row by row, by hand.
        let row0 = [
            0.5 - 2.0 * 2.0 - 1.5 + 0.25 * -0.25 + 0.1,
            -1.0 + 0.0 - 0.75 + 0.25 * 1.0 - 0.2,
            0.25 - 2.0 * -0.5 - 1.0 * -2.0 + 0.25 * 3.0 + 0.3,
        ];
        let row1 = [
            0.5 * 0.5 + 3.0 * 2.0 + 2.0 * 1.5 - 0.5 * -0.25 + 0.1,
            -0.5 + 0.0 + 2.0 * 0.75 - 0.5 * 1.0 - 0.2,
            0.5 * 0.25 + 3.0 * -0.5 + 2.0 * -2.0 - 0.5 * 3.0 + 0.3,
        ];
        let out = gate.forward(drive.clone(), state.clone());
        close(&values(out.clone()), &[row0, row1].concat());
        // Upstream gradient G: dW = [drive ; state]^T G, d drive = G W_d^T, by hand.
        let upstream = Tensor::<2>::from_floats([[1.0, 2.0, -1.0], [0.5, -1.0, 1.0]], &device);
        let grads = (out * upstream).sum().backward();
        close(
            &values(gate.drive_weight.grad(&grads).unwrap()),
            &[1.25, 1.5, -0.5, -0.5, -7.0, 5.0],
        );
        close(
            &values(gate.state_weight.grad(&grads).unwrap()),
            &[0.0, -4.0, 3.0, 0.0, 1.0, -0.75],
        );
        close(
            &values(gate.bias.as_ref().unwrap().grad(&grads).unwrap()),
            &[1.5, 1.0, 0.0],
        );
        close(
            &values(drive.grad(&grads).unwrap()),
            &[-1.75, 2.5, 1.5, 0.5],
        );
        assert!(state.grad(&grads).is_none());
    }

    /// `σ(k z)` with `k = 2` on the pre-activations `z` of the test above, and the gradients of
    /// `k` and of the bias: `Σ G σ'(k z) z` and the column sums of `G σ'(k z) k`. Expected values
    /// from Python's `math` module (z = -4.9625, -1.7, 4.3 / 9.475, 0.3, -6.575).
    #[test]
    fn a_slope_sharpens_the_sigmoid_and_learns() {
        let device = crate::default_device().autodiff();
        let plain = example_gate(&device);
        let drive = Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 3.0]], &device);
        let state = Tensor::<2>::from_floats([[-1.0, 0.25], [2.0, -0.5]], &device);
        // Slope 1 is the plain sigmoid, bit for bit.
        let unit = example_gate(&device).with_slope(1.0);
        assert_eq!(
            values(unit.activate(drive.clone(), state.clone())),
            values(plain.activate(drive.clone(), state.clone()))
        );
        let gate = unit.with_slope(2.0);
        let out = gate.activate(drive, state);
        close(
            &values(out.clone()),
            &[
                4.893347014058169e-05,
                0.032295464698450516,
                0.9998159280950366,
                0.999999994109942,
                0.6456563062257954,
                1.945479765037834e-06,
            ],
        );
        let upstream = Tensor::<2>::from_floats([[1.0, 2.0, -1.0], [0.5, -1.0, 1.0]], &device);
        let grads = (out * upstream).sum().backward();
        close(
            &values(gate.slope.as_ref().unwrap().grad(&grads).unwrap()),
            &[-0.1759406097355279],
        );
        close(
            &values(gate.bias.as_ref().unwrap().grad(&grads).unwrap()),
            &[9.786809e-05, -0.33255861, -0.00036418509],
        );
    }

    #[test]
    #[should_panic(expected = "drive width 4 must be in 1..4")]
    fn a_drive_as_wide_as_the_linear_is_refused() {
        let device = crate::default_device();
        Gate::from_linear(burn::nn::LinearConfig::new(4, 2).init(&device), 4);
    }
}
