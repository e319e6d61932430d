//! Adamax against hand-worked steps; FPTT with burn's optimizers and LR schedulers; BPTT
//! truncation.

mod common;

use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::module::{Module, Param};
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, RmsPropConfig, SgdConfig,
};
use burn::prelude::*;
use burn_fptt::prelude::*;
use common::{LinearStep, assert_close, values};

#[derive(Module, Debug)]
struct Weights {
    w: Param<Tensor<1>>,
}

/// Two Adamax steps on L = 0.5 w1² + 3 w2² from w = (1, -2), lr 0.1, defaults otherwise.
///
/// Step 1: g = (1, -12); m = 0.1 g = (0.1, -1.2); u = |g| + ε = (1, 12);
///         w -= 0.1 / (1 - 0.9) · m / u = (0.1, -0.1)  ->  (0.9, -1.9).
/// Step 2: g = (0.9, -11.4); m = 0.9 m + 0.1 g = (0.18, -2.22);
///         u = max(0.999 u, |g| + ε) = (0.999, 11.988);
///         w -= 0.1 / (1 - 0.81) · m / u = (0.0948317, -0.0974659)  ->  (0.8051683, -1.8025341).
#[test]
fn adamax_matches_hand_worked_steps() {
    let device = default_device().autodiff();
    let mut model = Weights {
        w: Param::from_tensor(Tensor::from_floats([1.0, -2.0], &device)),
    };
    let mut optim = AdamaxConfig::new().init();
    let c = Tensor::<1>::from_floats([0.5, 3.0], &device);
    let expected = [[0.9, -1.9], [0.8051683, -1.8025341]];
    for want in expected {
        let loss = (model.w.val().powi_scalar(2) * c.clone()).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.1, model, grads);
        assert_close(model.w.val(), want, 1e-6);
    }
}

#[test]
fn adamax_state_survives_a_record_round_trip() {
    let device = default_device().autodiff();
    let start = Weights {
        w: Param::from_tensor(Tensor::from_floats([1.0, -2.0], &device)),
    };
    let c = Tensor::<1>::from_floats([0.5, 3.0], &device);
    let step = |model: Weights, optim: &mut ModuleOptimizer| {
        let loss = (model.w.val().powi_scalar(2) * c.clone()).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(0.1, model, grads)
    };
    let mut optim = AdamaxConfig::new().init();
    let model = step(start, &mut optim);
    let restored = AdamaxConfig::new().init().load_record(optim.to_record());
    let mut restored = restored;
    let a = step(model.clone(), &mut optim);
    let b = step(model, &mut restored);
    assert_eq!(values(a.w.val()), values(b.w.val()));
}

fn one_batch(
    optimizer: ModuleOptimizer,
    scheduler: impl Into<burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler>,
) -> Vec<f64> {
    let device = default_device().autodiff();
    device.seed(2);
    let model = SpikingClassifierConfig::new(2, vec![8], 3).init(&device);
    let before = values(model.layers[0].input.weight.val());
    let mut learner =
        SequenceLearner::new(model, optimizer, scheduler, Method::Fptt(FpttConfig::new())).unwrap();
    let x = Tensor::<3>::random(
        [4, 6, 2],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 1], &device);
    let stats = learner.train_batch(x, y).unwrap();
    assert_eq!(stats.updates, 6);
    let after = values(learner.model().layers[0].input.weight.val());
    assert!(after.iter().all(|w| w.is_finite()));
    assert_ne!(before, after, "the weights did not move");
    after
}

#[test]
fn fptt_works_with_burns_optimizers_and_schedulers() {
    one_batch(AdamConfig::new().init(), 1e-2);
    one_batch(AdamWConfig::new().init(), 1e-2);
    one_batch(RmsPropConfig::new().init(), 1e-3);
    one_batch(
        SgdConfig::new()
            .with_momentum(Some(burn::optim::momentum::MomentumConfig::new()))
            .init(),
        1e-1,
    );
    let cosine = CosineAnnealingLrSchedulerConfig::new(1e-2, 100)
        .init()
        .unwrap();
    one_batch(AdamaxConfig::new().init(), cosine);
}

#[test]
fn truncated_bptt_updates_once_per_window() {
    let device = default_device().autodiff();
    for (truncation, updates) in [(None, 1), (Some(3), 4), (Some(10), 1), (Some(1), 10)] {
        let model = LinearStep {
            linear: burn::nn::LinearConfig::new(2, 2).init(&device),
        };
        let config = BpttConfig::new()
            .with_truncation(truncation)
            .with_loss(LossSchedule::EveryStep);
        let mut learner =
            SequenceLearner::new(model, SgdConfig::new().init(), 0.1, Method::Bptt(config))
                .unwrap();
        let x = Tensor::<3>::ones([2, 10, 2], &device);
        let stats = learner
            .train_batch(x, Tensor::<1, Int>::from_ints([0, 1], &device))
            .unwrap();
        assert_eq!(stats.updates, updates, "truncation {truncation:?}");
    }
}

/// A learning rate that would turn the weights into NaN a few updates later is refused when
/// the learner is built, naming the setting.
#[test]
fn a_learning_rate_of_nan_zero_or_below_is_refused_up_front() {
    let device = common::cpu_device().autodiff();
    let net = || SpikingClassifierConfig::new(3, vec![4], 3).init(&device);
    for lr in [f64::NAN, 0.0, -1e-3, f64::INFINITY] {
        let err = SequenceLearner::new(net(), AdamaxConfig::new().init(), lr, FpttConfig::new())
            .err()
            .unwrap_or_else(|| panic!("lr {lr} was accepted"));
        assert_eq!(err.field(), "learning rate", "{err}");
        assert!(err.to_string().contains("must be finite and > 0"), "{err}");
    }
    let cosine = CosineAnnealingLrSchedulerConfig::new(-1e-2, 10).init();
    // burn itself refuses a negative initial rate; a valid schedule is accepted as it is.
    assert!(cosine.is_err());
    let cosine = CosineAnnealingLrSchedulerConfig::new(1e-2, 10)
        .init()
        .unwrap();
    let learner =
        SequenceLearner::new(net(), AdamaxConfig::new().init(), cosine, FpttConfig::new());
    assert!(learner.is_ok());
}
