//! Each backend's [`UpdateOps`] against the trait's reference bodies (the tensor forms), and
//! against values worked out by hand.

use burn::backend::Dispatch;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::update::reference;
use super::*;

use crate::test_support::{backend_devices as devices, same_arithmetic};

fn values(tensor: &Tensor<1>) -> Vec<f32> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

fn random(n: usize, device: &Device) -> Tensor<1> {
    Tensor::random([n], Distribution::Uniform(-1.0, 1.0), device)
}

/// `actual` equals `expected` bit for bit on the CPU backends, and to 1e-6 relative elsewhere.
fn assert_matches(actual: &Tensor<1>, expected: &Tensor<1>, device: &Device, what: &str) {
    let (actual, expected) = (values(actual), values(expected));
    if same_arithmetic(device) {
        assert_eq!(actual, expected, "{device:?}: {what}");
        return;
    }
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (a, e) in actual.iter().zip(&expected) {
        assert!(
            (a - e).abs() <= 1e-6 * (1.0 + e.abs()),
            "{device:?}: {what}: {a} against {e}"
        );
    }
}

fn dispatch(tensor: &Tensor<1>) -> burn::backend::tensor::FloatTensor<Dispatch> {
    tensor.clone().into_dispatch()
}

fn tensor(primitive: burn::backend::tensor::FloatTensor<Dispatch>) -> Tensor<1> {
    Tensor::from_dispatch(primitive)
}

const SCALARS: AdamaxScalars = AdamaxScalars {
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-8,
    step_size: 3e-3 / (1.0 - 0.9 * 0.9),
};

#[test]
fn every_backend_gives_the_updates_of_the_reference_bodies() {
    let terms = RegulariserTerms {
        alpha: 0.5,
        lambda_scale: 1.0,
    };
    let beta = 0.3;
    for device in devices() {
        device.seed(3);
        // 1 003 elements: not a multiple of any SIMD width or cube size.
        let [task, weight, mean, multiplier] = [0; 4].map(|_| random(1003, &device));
        let earlier = Tensor::<1>::from_floats([2.5], &device);

        let (expected, expected_squares) = reference::regularised_gradient::<Dispatch>(
            dispatch(&task),
            dispatch(&weight),
            dispatch(&mean),
            dispatch(&multiplier),
            dispatch(&weight),
            false,
            terms,
        );
        let (expected, expected_squares) = (tensor(expected), tensor(expected_squares));
        let (gradient, squares) =
            regularised_gradient(Some(task.clone()), &weight, &mean, &multiplier, None, terms);
        assert_matches(&gradient, &expected, &device, "regularised gradient");
        let by_hand: f64 = values(&expected).iter().map(|&g| f64::from(g * g)).sum();
        let squares = squares.into_scalar::<f64>();
        assert!((squares - by_hand).abs() < 1e-5 * by_hand, "{device:?}");
        let reference_squares = expected_squares.into_scalar::<f64>();
        assert!((squares - reference_squares).abs() < 1e-5 * by_hand);
        // A running total from earlier parameters is added to.
        let (_, total) = regularised_gradient(
            Some(task),
            &weight,
            &mean,
            &multiplier,
            Some(earlier),
            terms,
        );
        let total = total.into_scalar::<f64>();
        assert!(
            (total - (2.5 + by_hand)).abs() < 1e-5 * by_hand,
            "{device:?}"
        );

        let (expected_mean, expected_multiplier) = reference::after_step::<Dispatch>(
            dispatch(&weight),
            dispatch(&mean),
            dispatch(&multiplier),
            terms.alpha,
            beta,
        );
        let (updated_mean, updated_multiplier) =
            after_step(&weight, mean.clone(), multiplier.clone(), terms.alpha, beta);
        assert_matches(&updated_mean, &tensor(expected_mean), &device, "W̄");
        assert_matches(
            &updated_multiplier,
            &tensor(expected_multiplier),
            &device,
            "λ",
        );

        let [moment, norm] = [0; 2].map(|_| random(1003, &device).abs());
        for first in [false, true] {
            let (w, m, u) = reference::adamax_step::<Dispatch>(
                dispatch(&gradient),
                dispatch(&weight),
                dispatch(&moment),
                dispatch(&norm),
                first,
                SCALARS,
            );
            let state = AdamaxBuffers {
                weight: weight.clone(),
                moment: moment.clone(),
                infinity_norm: norm.clone(),
            };
            let updated = adamax_step(&gradient, state, first, SCALARS);
            assert_matches(&updated.moment, &tensor(m), &device, "Adamax moment");
            assert_matches(&updated.infinity_norm, &tensor(u), &device, "Adamax norm");
            assert_matches(&updated.weight, &tensor(w), &device, "Adamax weight");
        }
    }
}

#[test]
fn adamax_over_a_list_steps_each_parameter_as_alone() {
    for device in devices() {
        device.seed(11);
        // Fifteen parameters of different sizes (more than one launch takes on lavapipe's 31
        // bindings, and one empty), the longest not a multiple of a cube.
        let sizes = [
            1003, 1, 7, 256, 0, 65536, 33, 512, 2, 10, 300, 64, 5, 4097, 3,
        ];
        for first in [true, false] {
            let grads: Vec<Tensor<1>> = sizes.iter().map(|&n| random(n, &device)).collect();
            let states: Vec<AdamaxBuffers> = sizes
                .iter()
                .map(|&n| AdamaxBuffers {
                    weight: random(n, &device),
                    moment: random(n, &device),
                    infinity_norm: random(n, &device).abs(),
                })
                .collect();
            let alone: Vec<AdamaxBuffers> = grads
                .iter()
                .zip(&states)
                .map(|(grad, state)| adamax_step(grad, state.clone(), first, SCALARS))
                .collect();
            let old_weights: Vec<Vec<f32>> = states.iter().map(|s| values(&s.weight)).collect();
            let old_moments: Vec<Vec<f32>> = states.iter().map(|s| values(&s.moment)).collect();
            let listed = adamax_steps(grads, states.clone(), first, SCALARS);
            assert_eq!(listed.len(), sizes.len());
            for (i, (listed, alone)) in listed.iter().zip(&alone).enumerate() {
                let what = |name: &str| format!("parameter {i} (first: {first}): {name}");
                assert_matches(&listed.weight, &alone.weight, &device, &what("weight"));
                assert_matches(&listed.moment, &alone.moment, &device, &what("moment"));
                assert_matches(
                    &listed.infinity_norm,
                    &alone.infinity_norm,
                    &device,
                    &what("infinity norm"),
                );
                // The state another handle holds (`states`) is not written.
                assert_eq!(
                    values(&states[i].weight),
                    old_weights[i],
                    "{}",
                    what("input")
                );
                assert_eq!(
                    values(&states[i].moment),
                    old_moments[i],
                    "{}",
                    what("input")
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "lists of one length")]
fn adamax_over_lists_of_different_lengths_panics() {
    let device = crate::default_device();
    let grads = vec![Tensor::<1>::zeros([2], &device); 2];
    let state = AdamaxBuffers {
        weight: Tensor::zeros([2], &device),
        moment: Tensor::zeros([2], &device),
        infinity_norm: Tensor::ones([2], &device),
    };
    adamax_steps(grads, vec![state], false, SCALARS);
}

#[test]
fn the_updates_match_values_worked_by_hand() {
    for device in devices() {
        let weight = Tensor::<1>::from_data(TensorData::from([1.0f32, 0.0]), &device);
        let mean = Tensor::<1>::from_data(TensorData::from([0.5f32, 1.0]), &device);
        let multiplier = Tensor::<1>::from_data(TensorData::from([0.25f32, 0.0]), &device);
        let task = Tensor::<1>::from_data(TensorData::from([1.0f32, -2.0]), &device);
        let terms = RegulariserTerms {
            alpha: 2.0,
            lambda_scale: 1.0,
        };
        let (gradient, squares) =
            regularised_gradient(Some(task), &weight, &mean, &multiplier, None, terms);
        // 1 + 2 (1 − 0.5) − 0.25 = 1.75;  −2 + 2 (0 − 1) − 0 = −4.
        assert_eq!(values(&gradient), [1.75, -4.0], "{device:?}");
        assert_eq!(squares.into_scalar::<f64>(), 1.75 * 1.75 + 16.0);
        // Without a task gradient, the regulariser's alone: 2 (0.5) − 0.25, 2 (−1).
        let (alone, _) = regularised_gradient(None, &weight, &mean, &multiplier, None, terms);
        assert_eq!(values(&alone), [0.75, -2.0], "{device:?}");

        // λ ← λ − α (W − W̄) = [0.25 − 1, 0 + 2] = [−0.75, 2];
        // W̄ ← 0.5 W̄ + 0.5 W − 0.25 λ = [0.75 + 0.1875, 0.5 − 0.5] = [0.9375, 0].
        let (updated_mean, updated_multiplier) =
            after_step(&weight, mean.clone(), multiplier.clone(), 2.0, 0.5);
        assert_eq!(values(&updated_multiplier), [-0.75, 2.0], "{device:?}");
        assert_eq!(values(&updated_mean), [0.9375, 0.0], "{device:?}");

        // First Adamax step: m = 0.1 g, u = |g| + ε, W − step (m / u) = W − 0.1 step sign(g).
        let scalars = AdamaxScalars {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 0.0,
            step_size: 1.0,
        };
        let state = AdamaxBuffers {
            weight: weight.clone(),
            moment: weight.zeros_like(),
            infinity_norm: weight.zeros_like(),
        };
        let updated = adamax_step(&gradient, state, true, scalars);
        let close = |actual: Vec<f32>, expected: [f32; 2]| {
            actual
                .iter()
                .zip(expected)
                .all(|(a, e)| (a - e).abs() <= 1e-6)
        };
        assert!(close(values(&updated.moment), [0.175, -0.4]), "{device:?}");
        assert!(close(values(&updated.infinity_norm), [1.75, 4.0]));
        assert!(close(values(&updated.weight), [0.9, 0.1]));
        // The inputs another handle still holds are not written.
        assert_eq!(values(&weight), [1.0, 0.0]);
        assert_eq!(values(&mean), [0.5, 1.0]);
        assert_eq!(values(&multiplier), [0.25, 0.0]);
    }
}

#[test]
fn clipping_scales_by_the_global_norm_on_every_backend() {
    for device in devices() {
        device.seed(5);
        // A 2-d gradient of 1 003 · 3 elements and a total of squares of 400 (norm 20).
        let grad = Tensor::<2>::random([1003, 3], Distribution::Uniform(-1.0, 1.0), &device);
        let squared_norm = Tensor::<1>::from_floats([400.0], &device);
        for max_norm in [5.0, 1e3] {
            let clipped = clip_scale(grad.clone(), &squared_norm, max_norm);
            assert_eq!(clipped.dims(), [1003, 3]);
            let expected = Tensor::<2>::from_dispatch(reference::clip_scale::<Dispatch>(
                grad.clone().into_dispatch(),
                dispatch(&squared_norm),
                max_norm,
            ));
            assert_matches(
                &clipped.reshape([3009]),
                &expected.reshape([3009]),
                &device,
                "clip_scale",
            );
        }
        // By hand: |(3, −4)| = 5; max_norm 1 scales by 1 / (5 + 1e-6) ≈ 0.2, a max_norm above the
        // norm leaves the gradient exactly as it was.
        let grad = Tensor::<1>::from_data(TensorData::from([3.0f32, -4.0]), &device);
        let squared_norm = Tensor::<1>::from_floats([25.0], &device);
        let clipped = values(&clip_scale(grad.clone(), &squared_norm, 1.0));
        assert!(
            (clipped[0] - 0.6).abs() < 1e-6 && (clipped[1] + 0.8).abs() < 1e-6,
            "{device:?}: {clipped:?}"
        );
        assert_eq!(
            values(&clip_scale(grad, &squared_norm, 10.0)),
            [3.0, -4.0],
            "{device:?}"
        );
    }
}

#[test]
fn the_multi_gaussian_slope_gives_the_surrogates_values_and_keeps_its_input() {
    let surrogate = crate::Surrogate::multi_gaussian();
    let crate::Surrogate::MultiGaussian {
        lens,
        scale,
        height,
        gamma,
    } = surrogate
    else {
        unreachable!()
    };
    let terms = MultiGaussianTerms::new(lens, scale, height, gamma);
    for device in devices() {
        device.seed(5);
        let v = Tensor::<2>::random([7, 129], Distribution::Uniform(-3.0, 3.0), &device);
        let before = v.to_data();
        let expected = surrogate.derivative(v.clone()).reshape([7 * 129]);
        let slope = multi_gaussian(v.clone(), &terms);
        assert_eq!(slope.dims(), [7, 129]);
        assert_matches(&slope.reshape([7 * 129]), &expected, &device, "g(v)");
        assert_eq!(v.to_data(), before, "{device:?}");
        // Under autodiff the slope is a constant of the inner values.
        let tracked = v.clone().autodiff().require_grad();
        let slope = multi_gaussian(tracked, &terms);
        assert!(!slope.is_require_grad());
        assert_matches(
            &slope.inner().reshape([7 * 129]),
            &expected,
            &device,
            "g(v)",
        );
    }
}

#[test]
fn other_dtypes_take_the_reference_bodies() {
    for device in devices() {
        if !same_arithmetic(&device) {
            continue; // f64 is not a dtype every GPU adapter has
        }
        let f64_tensor = |v: [f64; 2]| {
            Tensor::<1>::from_data(TensorData::from(v), &device).cast(burn::tensor::DType::F64)
        };
        let weight = f64_tensor([1.0, 0.0]);
        let (mean, multiplier) = after_step(
            &weight,
            f64_tensor([0.5, 1.0]),
            f64_tensor([0.25, 0.0]),
            2.0,
            0.5,
        );
        assert_eq!(mean.dtype(), burn::tensor::DType::F64);
        assert_eq!(mean.to_data().try_to_vec::<f64>().unwrap(), [0.9375, 0.0]);
        assert_eq!(
            multiplier.to_data().try_to_vec::<f64>().unwrap(),
            [-0.75, 2.0]
        );
    }
}

/// Seven parameters of uneven lengths (shorter than a cube, longer than the reducing cube's
/// units, a single element), as a model has: more than one launch takes on lavapipe (31
/// bindings: 5 a launch) or OpenGL (15: 2), so the total carried between launches is tested.
fn uneven_parameters(device: &Device) -> Vec<[Tensor<1>; 4]> {
    [7, 1003, 1, 300, 5, 64, 2]
        .map(|n| [0; 4].map(|_| random(n, device)))
        .into_iter()
        .collect()
}

/// The multi-tensor updates give what the per-tensor ones give, parameter by parameter, and
/// the squares of all the gradients summed in the order given.
#[test]
fn the_multi_tensor_updates_match_the_per_tensor_ones() {
    let terms = RegulariserTerms {
        alpha: 0.5,
        lambda_scale: 1.0,
    };
    for device in devices() {
        device.seed(11);
        let params = uneven_parameters(&device);
        let column = |i: usize| params.iter().map(|p| p[i].clone()).collect::<Vec<_>>();
        let (tasks, weights, means, multipliers) = (column(0), column(1), column(2), column(3));

        let (gradients, total) = regularised_gradients(
            tasks.iter().cloned().map(Some).collect(),
            &weights,
            &means,
            &multipliers,
            terms,
        );
        let mut chained = None;
        for (p, [task, weight, mean, multiplier]) in params.iter().enumerate() {
            let (expected, squares) = regularised_gradient(
                Some(task.clone()),
                weight,
                mean,
                multiplier,
                chained.take(),
                terms,
            );
            assert_matches(&gradients[p], &expected, &device, "regularised gradients");
            chained = Some(squares);
        }
        let (total, chained) = (
            total.into_scalar::<f64>(),
            chained.unwrap().into_scalar::<f64>(),
        );
        if same_arithmetic(&device) {
            assert_eq!(total.to_bits(), chained.to_bits(), "{device:?}: total");
        } else {
            assert!((total - chained).abs() <= 1e-5 * chained, "{device:?}");
        }

        let (updated_means, updated_multipliers) = after_steps(
            weights.clone(),
            means.clone(),
            multipliers.clone(),
            terms.alpha,
            0.3,
        );
        for (p, [_, weight, mean, multiplier]) in params.iter().enumerate() {
            let (mean, multiplier) =
                after_step(weight, mean.clone(), multiplier.clone(), terms.alpha, 0.3);
            assert_matches(&updated_means[p], &mean, &device, "W̄ of several");
            assert_matches(
                &updated_multipliers[p],
                &multiplier,
                &device,
                "λ of several",
            );
        }

        // A norm of 4 clipped to 2 halves every gradient.
        let squared_norm = Tensor::<1>::from_floats([16.0], &device);
        let clipped = clip_scales(tasks.clone(), &squared_norm, 2.0);
        for (task, clipped) in tasks.iter().zip(&clipped) {
            let expected = clip_scale(task.clone(), &squared_norm, 2.0);
            assert_matches(clipped, &expected, &device, "clipped gradients");
        }
    }
}

#[test]
#[should_panic(expected = "non-empty lists of one length, got lengths [2, 2, 1]")]
fn a_multi_tensor_update_refuses_lists_of_different_lengths() {
    let device = devices().remove(0);
    let weight = random(3, &device);
    after_steps(
        vec![weight.clone(), weight.clone()],
        vec![weight.clone(), weight.clone()],
        vec![weight],
        0.5,
        0.3,
    );
}

#[test]
#[should_panic(expected = "non-empty lists of one length, got lengths [0]")]
fn a_multi_tensor_update_refuses_an_empty_list() {
    let device = devices().remove(0);
    clip_scales(Vec::new(), &Tensor::<1>::from_floats([1.0], &device), 1.0);
}
