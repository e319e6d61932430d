//! The spike function: exact Heaviside forward, surrogate derivative backward.
//! Expected values come from tools/reference_values.py (numpy, independent of the crate).

mod common;

use burn::prelude::*;
use burn_fptt::prelude::*;
use common::{assert_close, values};

const V: [f64; 11] = [-2.0, -1.0, -0.5, -0.3, -0.1, 0.0, 0.05, 0.2, 0.3, 0.7, 1.5];

fn all_surrogates() -> Vec<(Surrogate, [f64; 11])> {
    vec![
        (
            Surrogate::multi_gaussian(),
            [
                -0.0179894758,
                -0.0252625502,
                0.1590848873,
                0.4314303258,
                0.6905803644,
                0.7318527278,
                0.7213184417,
                0.5796848768,
                0.4314303258,
                0.0197959223,
                -0.0233895975,
            ],
        ),
        (
            Surrogate::fast_sigmoid(),
            [
                0.0022675737,
                0.0082644628,
                0.0277777778,
                0.0625,
                0.25,
                1.0,
                0.4444444444,
                0.1111111111,
                0.0625,
                0.015625,
                0.00390625,
            ],
        ),
        (
            Surrogate::sigmoid(),
            [
                0.0013409507,
                0.0706508249,
                0.4199743416,
                0.7115777626,
                0.961042983,
                1.0,
                0.9900662908,
                0.8556387861,
                0.7115777626,
                0.216152459,
                0.0098660372,
            ],
        ),
        (
            Surrogate::arctan(),
            [
                0.024704523,
                0.0919996684,
                0.2884004391,
                0.5295868534,
                0.9101698376,
                1.0,
                0.9759201358,
                0.7169568003,
                0.5295868534,
                0.1713471231,
                0.0430911712,
            ],
        ),
        (
            Surrogate::triangle(),
            [0.0, 0.0, 0.5, 0.7, 0.9, 1.0, 0.95, 0.8, 0.7, 0.3, 0.0],
        ),
    ]
}

#[test]
fn forward_is_exactly_heaviside_with_and_without_autodiff() {
    let device = default_device();
    for autodiff in [false, true] {
        let device = if autodiff {
            device.clone().autodiff()
        } else {
            device.clone()
        };
        for (surrogate, _) in all_surrogates() {
            let v = Tensor::<1>::from_floats(V, &device);
            let v = if autodiff { v.require_grad() } else { v };
            let s = values(spike(v, &surrogate));
            let expected: Vec<f64> = V.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }).collect();
            assert_eq!(s, expected, "{surrogate:?}, autodiff {autodiff}");
        }
    }
}

#[test]
fn spike_inside_a_graph_is_exactly_binary() {
    // The straight-through term must add exactly zero, also downstream of other ops.
    let device = default_device().autodiff();
    let w = Tensor::<1>::from_floats([0.37], &device).require_grad();
    let v = Tensor::<1>::from_floats(V, &device) * w.repeat_dim(0, 11);
    let s = values(spike(v, &Surrogate::multi_gaussian()));
    assert!(s.iter().all(|&x| x == 0.0 || x == 1.0), "{s:?}");
}

#[test]
fn gradient_equals_the_analytic_surrogate() {
    let device = default_device().autodiff();
    for (surrogate, expected) in all_surrogates() {
        let v = Tensor::<1>::from_floats(V, &device).require_grad();
        let grads = spike(v.clone(), &surrogate).sum().backward();
        let grad = v.grad(&grads).expect("spike passes a gradient");
        assert_close(grad, expected, 1e-5);
    }
}

#[test]
fn upstream_gradient_is_scaled_by_the_surrogate() {
    // d/dv sum(c * spike(v)) = c * g(v).
    let device = default_device().autodiff();
    let v = Tensor::<1>::from_floats([0.0, 0.3], &device).require_grad();
    let c = Tensor::<1>::from_floats([2.0, -3.0], &device);
    let grads = (spike(v.clone(), &Surrogate::multi_gaussian()) * c)
        .sum()
        .backward();
    assert_close(
        v.grad(&grads).unwrap(),
        [2.0 * 0.7318527278, -3.0 * 0.4314303258],
        1e-5,
    );
}

#[test]
fn multi_gaussian_peak_and_area() {
    // g(0) = gamma [(1+h)/(sqrt(2 pi) l) - 2h exp(-1/(2k^2))/(sqrt(2 pi) k l)], worked out by hand.
    let (l, k, h, gamma) = (0.3f64, 6.0f64, 0.15f64, 0.5f64);
    let norm = (2.0 * std::f64::consts::PI).sqrt();
    let peak =
        gamma * ((1.0 + h) / (norm * l) - 2.0 * h * (-1.0 / (2.0 * k * k)).exp() / (norm * k * l));
    assert!((peak - 0.7318527).abs() < 1e-6);

    // The area under g over a wide grid is gamma (1 - h) = 0.425.
    let device = default_device();
    let n = 200_001;
    let (lo, hi) = (-20.0f64, 20.0f64);
    let dx = (hi - lo) / (n - 1) as f64;
    let grid: Vec<f32> = (0..n).map(|i| (lo + i as f64 * dx) as f32).collect();
    let g = values(
        Surrogate::multi_gaussian().derivative(Tensor::<1>::from_floats(grid.as_slice(), &device)),
    );
    assert!((g[n / 2] - peak).abs() < 1e-6);
    let area: f64 = g.iter().sum::<f64>() * dx;
    assert!((area - 0.425).abs() < 1e-4, "area {area}");
}

#[test]
fn smooth_twin_is_the_antiderivative_of_the_surrogate() {
    // F(b) - F(a) must equal the integral of g over [a, b]; F(-inf) = 0.
    let device = default_device();
    for (surrogate, _) in all_surrogates() {
        let ends =
            values(surrogate.primitive(Tensor::<1>::from_floats([-1.0e4, -0.4, 0.6], &device)));
        // Heavy-tailed surrogates (fast sigmoid, arctan) approach 0 like 1/|v|.
        assert!(ends[0].abs() < 5e-5, "{surrogate:?}: F(-1e4) = {}", ends[0]);
        let n = 20_001;
        let dx = 1.0 / (n - 1) as f64;
        let grid: Vec<f32> = (0..n).map(|i| (-0.4 + i as f64 * dx) as f32).collect();
        let g = values(surrogate.derivative(Tensor::<1>::from_floats(grid.as_slice(), &device)));
        let integral = (g.iter().sum::<f64>() - 0.5 * (g[0] + g[n - 1])) * dx;
        assert!(
            (ends[2] - ends[1] - integral).abs() < 1e-4,
            "{surrogate:?}: F(0.6) - F(-0.4) = {} but the integral is {integral}",
            ends[2] - ends[1]
        );
    }
}

#[test]
fn invalid_parameters_name_the_field() {
    let cases = [
        (
            Surrogate::MultiGaussian {
                lens: 0.0,
                scale: 6.0,
                height: 0.15,
                gamma: 0.5,
            },
            "lens",
        ),
        (
            Surrogate::MultiGaussian {
                lens: 0.3,
                scale: 6.0,
                height: -1.0,
                gamma: 0.5,
            },
            "height",
        ),
        (Surrogate::FastSigmoid { slope: f64::NAN }, "slope"),
        (Surrogate::Sigmoid { slope: -4.0 }, "slope"),
        (
            Surrogate::ArcTan {
                alpha: f64::INFINITY,
            },
            "alpha",
        ),
        (Surrogate::Triangle { width: 0.0 }, "width"),
    ];
    for (surrogate, field) in cases {
        let err = surrogate.validate().unwrap_err();
        assert!(err.field().ends_with(field), "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    for (surrogate, _) in all_surrogates() {
        surrogate.validate().unwrap();
    }
}

#[test]
fn surrogates_round_trip_through_json() {
    for (surrogate, _) in all_surrogates() {
        let json = serde_json::to_string(&surrogate).unwrap();
        let back: Surrogate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, surrogate);
    }
}
