//! The updates of a whole model's parameters on plain wgpu, in as few launches as the adapter's
//! bindings allow: FPTT's regularised gradients with their sum of squares, the clipping and the
//! after-step update, each a CubeCL kernel over a `Sequence` of parameter tensors (the
//! per-parameter kernels of `cube.rs`, looped over the parameters inside one launch).
//! `super::regularised_gradients` and its neighbours route wgpu's tensors here. With the
//! `fusion` feature the tensors are fusion's and the updates go parameter by parameter, as
//! fusion operations, so this module is not built.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::wgpu::CubeTensor;
use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::{CubeCount, CubeDim};

use super::cube::{
    REDUCE_UNITS, adamax_moment, adamax_norm, adamax_weight, clip_factor, elementwise, empty_like,
    empty_shaped, moved_mean, regularised, sum_over_cube, updated_multiplier,
};
use super::update::{AdamaxScalars, RegulariserTerms, check_lists};

/// `cube::regularised_gradient_kernel` over a sequence of parameters in one cube: each parameter's
/// squares summed as there, then added to the running total in the sequence's order (starting
/// from `earlier[0]` when `add_earlier` is 1); unit 0 writes the total.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn regularised_gradients_kernel<F: Float>(
    tasks: &Sequence<OwnedTensor<F>>,
    weights: &Sequence<OwnedTensor<F>>,
    running_means: &Sequence<OwnedTensor<F>>,
    multipliers: &Sequence<OwnedTensor<F>>,
    earlier: &Tensor<F>,
    gradients: &mut Sequence<OwnedTensor<F>>,
    squares: &mut Tensor<F>,
    alpha: f32,
    lambda_scale: f32,
    add_earlier: u32,
    #[comptime] units: usize,
    #[define(F)] _dtype: ElemType,
) {
    let alpha = F::cast_from(alpha);
    let lambda_scale = F::cast_from(lambda_scale);
    let unit = UNIT_POS as usize;
    let mut partial = Shared::new_slice(units);
    let mut total = F::new(0.0);
    #[unroll]
    for p in 0..tasks.len() {
        let task = &tasks[p];
        let weight = &weights[p];
        let running_mean = &running_means[p];
        let multiplier = &multipliers[p];
        let gradient = &mut gradients[p];
        let mut sum = F::new(0.0);
        let mut index = unit;
        while index < gradient.len() {
            let value = regularised::<F>(
                task[index],
                weight[index],
                running_mean[index],
                multiplier[index],
                alpha,
                lambda_scale,
            );
            gradient[index] = value;
            sum += value * value;
            index += units;
        }
        let own = sum_over_cube::<F>(&mut partial, sum);
        if p == 0 {
            total = own;
            if add_earlier == 1 {
                total = earlier[0] + total;
            }
        } else {
            total += own;
        }
        // Every unit has read the sum before the next parameter writes its partial sums.
        sync_cube();
    }
    if unit == 0 {
        squares[0] = total;
    }
}

/// `cube::after_step_kernel` over a sequence of parameters: unit `i` updates element `i` of each
/// parameter that has one.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn after_steps_kernel<F: Float>(
    weights: &Sequence<OwnedTensor<F>>,
    running_means: &Sequence<OwnedTensor<F>>,
    multipliers: &Sequence<OwnedTensor<F>>,
    running_means_out: &mut Sequence<OwnedTensor<F>>,
    multipliers_out: &mut Sequence<OwnedTensor<F>>,
    alpha: f32,
    beta: f32,
    keep: f32,
    ratio: f32,
    #[define(F)] _dtype: ElemType,
) {
    #[unroll]
    for p in 0..weights.len() {
        let running_mean_out = &mut running_means_out[p];
        if ABSOLUTE_POS < running_mean_out.len() {
            let w = weights[p][ABSOLUTE_POS];
            let mean = running_means[p][ABSOLUTE_POS];
            let updated =
                updated_multiplier::<F>(w, mean, multipliers[p][ABSOLUTE_POS], F::cast_from(alpha));
            running_mean_out[ABSOLUTE_POS] = moved_mean::<F>(
                w,
                mean,
                updated,
                F::cast_from(keep),
                F::cast_from(beta),
                F::cast_from(ratio),
            );
            let multiplier_out = &mut multipliers_out[p];
            multiplier_out[ABSOLUTE_POS] = updated;
        }
    }
}

/// `cube::clip_scale_kernel` over a sequence of gradients: unit `i` scales element `i` of each
/// gradient that has one.
#[cube(launch)]
fn clip_scales_kernel<F: Float>(
    grads: &Sequence<OwnedTensor<F>>,
    squared_norm: &Tensor<F>,
    outs: &mut Sequence<OwnedTensor<F>>,
    max_norm: f32,
    #[define(F)] _dtype: ElemType,
) {
    let factor = clip_factor::<F>(squared_norm[0], F::cast_from(max_norm));
    #[unroll]
    for p in 0..grads.len() {
        let out = &mut outs[p];
        if ABSOLUTE_POS < out.len() {
            out[ABSOLUTE_POS] = grads[p][ABSOLUTE_POS] * factor;
        }
    }
}

/// `cube::adamax_kernel` over a sequence of parameters, the moments and infinity norms updated in
/// place: unit `i` steps element `i` of each parameter that has one.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adamax_steps_kernel<F: Float>(
    grads: &Sequence<OwnedTensor<F>>,
    weights: &Sequence<OwnedTensor<F>>,
    weights_out: &mut Sequence<OwnedTensor<F>>,
    moments: &mut Sequence<OwnedTensor<F>>,
    infinity_norms: &mut Sequence<OwnedTensor<F>>,
    first: u32,
    beta_1: f32,
    keep_grad: f32,
    beta_2: f32,
    epsilon: f32,
    step_size: f32,
    #[define(F)] _dtype: ElemType,
) {
    #[unroll]
    for p in 0..grads.len() {
        let weight_out = &mut weights_out[p];
        if ABSOLUTE_POS < weight_out.len() {
            let g = grads[p][ABSOLUTE_POS];
            let moment = &mut moments[p];
            let m = adamax_moment::<F>(
                g,
                moment[ABSOLUTE_POS],
                first,
                F::cast_from(beta_1),
                F::cast_from(keep_grad),
            );
            moment[ABSOLUTE_POS] = m;
            let infinity_norm = &mut infinity_norms[p];
            let u = adamax_norm::<F>(
                g,
                infinity_norm[ABSOLUTE_POS],
                first,
                F::cast_from(beta_2),
                F::cast_from(epsilon),
            );
            infinity_norm[ABSOLUTE_POS] = u;
            weight_out[ABSOLUTE_POS] =
                adamax_weight::<F>(weights[p][ABSOLUTE_POS], m, u, F::cast_from(step_size));
        }
    }
}

/// The launch geometry for one unit per element of the longest of `tensors`; `None` when all
/// are empty.
fn elementwise_over(tensors: &[CubeTensor]) -> Option<(CubeCount, CubeDim)> {
    let longest = tensors.iter().max_by_key(|t| t.shape().num_elements())?;
    (longest.shape().num_elements() > 0).then(|| elementwise(longest))
}

fn contiguous(tensors: Vec<CubeTensor>) -> Vec<CubeTensor> {
    tensors.into_iter().map(into_contiguous).collect()
}

/// The tensors as one sequence argument of a kernel.
fn sequence<F: Float>(tensors: Vec<CubeTensor>) -> SequenceArg<OwnedTensor<F>> {
    let mut arg = SequenceArg::new();
    for tensor in tensors {
        arg.push(tensor.into_tensor_arg());
    }
    arg
}

/// How many parameters one launch can take when each binds `per_parameter` buffers beside
/// `fixed` others: the bindings CubeCL allows a kernel (`crate::Adapter::bindings`: 31 on
/// lavapipe, where the updates of a model of 14 tensors take 3 + 1 + 3 launches; 15 on wgpu's
/// OpenGL backend; far more on a GPU), less the metadata buffer it binds to every kernel.
fn parameters_per_launch(client: &Client, per_parameter: usize, fixed: usize) -> usize {
    let bindings = client.properties().hardware.max_bindings as usize;
    (bindings.saturating_sub(fixed + 1) / per_parameter).max(1)
}

/// `UpdateOps::regularised_gradient` of a list of parameters (see
/// [`regularised_gradients_kernel`]), the squares' total carried from launch to launch.
pub(super) fn regularised_gradients(
    tasks: Vec<CubeTensor>,
    weights: Vec<CubeTensor>,
    running_means: Vec<CubeTensor>,
    multipliers: Vec<CubeTensor>,
    terms: RegulariserTerms,
) -> (Vec<CubeTensor>, CubeTensor) {
    check_lists(&[
        tasks.len(),
        weights.len(),
        running_means.len(),
        multipliers.len(),
    ]);
    let client = tasks[0].client.clone();
    let dtype = dtype_to_storage_type(tasks[0].dtype);
    let chunk = parameters_per_launch(&client, 5, 2);
    let [tasks, weights, running_means, multipliers] =
        [tasks, weights, running_means, multipliers].map(contiguous);
    let mut gradients = Vec::with_capacity(tasks.len());
    let mut total: Option<CubeTensor> = None;
    for start in (0..tasks.len()).step_by(chunk) {
        let end = (start + chunk).min(tasks.len());
        let out: Vec<CubeTensor> = tasks[start..end].iter().map(empty_like).collect();
        let squares = empty_shaped(&tasks[0], Shape::new([1]));
        // Without an earlier total none is read; the first task stands in.
        let add_earlier = u32::from(total.is_some());
        let earlier = total.take().unwrap_or_else(|| tasks[0].clone());
        regularised_gradients_kernel::launch(
            &client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(REDUCE_UNITS),
            sequence(tasks[start..end].to_vec()),
            sequence(weights[start..end].to_vec()),
            sequence(running_means[start..end].to_vec()),
            sequence(multipliers[start..end].to_vec()),
            earlier.into_tensor_arg(),
            sequence(out.clone()),
            squares.clone().into_tensor_arg(),
            terms.alpha as f32,
            terms.lambda_scale as f32,
            add_earlier,
            REDUCE_UNITS as usize,
            dtype,
        );
        gradients.extend(out);
        total = Some(squares);
    }
    (gradients, total.expect("checked: at least one parameter"))
}

/// `UpdateOps::after_step` of a list of parameters.
pub(super) fn after_steps(
    weights: Vec<CubeTensor>,
    running_means: Vec<CubeTensor>,
    multipliers: Vec<CubeTensor>,
    alpha: f64,
    beta: f64,
) -> (Vec<CubeTensor>, Vec<CubeTensor>) {
    check_lists(&[weights.len(), running_means.len(), multipliers.len()]);
    let client = weights[0].client.clone();
    let dtype = dtype_to_storage_type(weights[0].dtype);
    let chunk = parameters_per_launch(&client, 5, 0);
    let [weights, running_means, multipliers] =
        [weights, running_means, multipliers].map(contiguous);
    let means_out: Vec<CubeTensor> = weights.iter().map(empty_like).collect();
    let multipliers_out: Vec<CubeTensor> = weights.iter().map(empty_like).collect();
    for start in (0..weights.len()).step_by(chunk) {
        let end = (start + chunk).min(weights.len());
        let Some((count, dim)) = elementwise_over(&weights[start..end]) else {
            continue;
        };
        after_steps_kernel::launch(
            &client,
            count,
            dim,
            sequence(weights[start..end].to_vec()),
            sequence(running_means[start..end].to_vec()),
            sequence(multipliers[start..end].to_vec()),
            sequence(means_out[start..end].to_vec()),
            sequence(multipliers_out[start..end].to_vec()),
            alpha as f32,
            beta as f32,
            (1.0 - beta) as f32,
            (beta / alpha) as f32,
            dtype,
        );
    }
    (means_out, multipliers_out)
}

/// `UpdateOps::clip_scale` of a list of gradients.
pub(super) fn clip_scales(
    grads: Vec<CubeTensor>,
    squared_norm: CubeTensor,
    max_norm: f64,
) -> Vec<CubeTensor> {
    check_lists(&[grads.len()]);
    let client = grads[0].client.clone();
    let dtype = dtype_to_storage_type(grads[0].dtype);
    let chunk = parameters_per_launch(&client, 2, 1);
    let grads = contiguous(grads);
    let squared_norm = into_contiguous(squared_norm);
    let outs: Vec<CubeTensor> = grads.iter().map(empty_like).collect();
    for start in (0..grads.len()).step_by(chunk) {
        let end = (start + chunk).min(grads.len());
        let Some((count, dim)) = elementwise_over(&grads[start..end]) else {
            continue;
        };
        clip_scales_kernel::launch(
            &client,
            count,
            dim,
            sequence(grads[start..end].to_vec()),
            squared_norm.clone().into_tensor_arg(),
            sequence(outs[start..end].to_vec()),
            max_norm as f32,
            dtype,
        );
    }
    outs
}

/// `UpdateOps::adamax_step` of a list of parameters with one step's scalars (see
/// [`adamax_steps_kernel`]): five bindings a parameter, the moments and infinity norms written in
/// place (copied first where another handle shares them); returns the new weights, moments and
/// infinity norms.
pub(super) fn adamax_steps(
    grads: Vec<CubeTensor>,
    weights: Vec<CubeTensor>,
    moments: Vec<CubeTensor>,
    infinity_norms: Vec<CubeTensor>,
    first: bool,
    scalars: AdamaxScalars,
) -> (Vec<CubeTensor>, Vec<CubeTensor>, Vec<CubeTensor>) {
    check_lists(&[
        grads.len(),
        weights.len(),
        moments.len(),
        infinity_norms.len(),
    ]);
    let client = grads[0].client.clone();
    let dtype = dtype_to_storage_type(grads[0].dtype);
    let chunk = parameters_per_launch(&client, 5, 0);
    let [grads, weights] = [grads, weights].map(contiguous);
    let [moments, infinity_norms] = [moments, infinity_norms].map(|tensors| {
        tensors
            .into_iter()
            .map(|tensor| {
                let tensor = into_contiguous(tensor);
                if tensor.can_mut() {
                    tensor
                } else {
                    tensor.copy()
                }
            })
            .collect::<Vec<_>>()
    });
    let weights_out: Vec<CubeTensor> = weights.iter().map(empty_like).collect();
    for start in (0..weights.len()).step_by(chunk) {
        let end = (start + chunk).min(weights.len());
        let Some((count, dim)) = elementwise_over(&weights[start..end]) else {
            continue;
        };
        adamax_steps_kernel::launch(
            &client,
            count,
            dim,
            sequence(grads[start..end].to_vec()),
            sequence(weights[start..end].to_vec()),
            sequence(weights_out[start..end].to_vec()),
            sequence(moments[start..end].to_vec()),
            sequence(infinity_norms[start..end].to_vec()),
            u32::from(first),
            scalars.beta_1 as f32,
            (1.0 - scalars.beta_1) as f32,
            scalars.beta_2 as f32,
            scalars.epsilon as f32,
            scalars.step_size as f32,
            dtype,
        );
    }
    (weights_out, moments, infinity_norms)
}
