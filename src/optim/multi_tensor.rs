//! Adamax over all of a model's parameters at once: the "multi-tensor" form of PyTorch's
//! `foreach` optimizers, for the kernels of `crate::kernels` that take lists of parameters.

use std::collections::HashMap;
use std::path::Path;

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::store::RecordError;
use burn::tensor::{Tensor, TensorData};

use super::ModelOptimizer;
use super::adamax::Adamax;
use crate::kernels::{self, AdamaxBuffers};
use crate::params::{Replace, flat, with_suffix};

/// [`Adamax`] stepping every parameter of a model in one call: the parameters that share a step
/// count and a learning rate (all of them, unless some had no gradient at some step or parameter
/// groups set their own rates) go to the backend as one list, which wgpu updates in one kernel
/// launch (or as many as the adapter's bindings require: five buffers a parameter) where
/// [`ModuleOptimizer`](burn::optim::ModuleOptimizer) launches one per parameter. The CPU backends
/// run the same loop per parameter as [`Adamax`], so both give the same values, bit for bit.
///
/// Build it with [`AdamaxConfig::init_multi_tensor`](super::AdamaxConfig::init_multi_tensor); a
/// [`SequenceLearner`](crate::SequenceLearner) or [`Fptt::update`](crate::fptt::Fptt::update)
/// takes it where they take a `ModuleOptimizer` (burn-train's `Learner` takes only the latter).
/// Its state is saved as one burnpack file (see [`ModelOptimizer::save`]).
///
/// ```
/// use burn::prelude::*;
/// use burn_fptt::prelude::*;
///
/// let device = default_device().autodiff();
/// let net = SpikingClassifierConfig::new(1, vec![16], 2).init(&device);
/// let optim = AdamaxConfig::new().init_multi_tensor();
/// let mut learner = SequenceLearner::new(net, optim, 3e-3, FpttConfig::new()).unwrap();
/// let x = Tensor::<3>::ones([4, 10, 1], &device);
/// let y = Tensor::<1, Int>::from_ints([0, 1, 0, 1], &device);
/// assert_eq!(learner.train_batch(x, y).unwrap().updates, 10);
/// ```
#[derive(Clone)]
pub struct MultiTensorAdamax {
    rule: Adamax,
    states: HashMap<ParamId, Moments>,
}

impl std::fmt::Debug for MultiTensorAdamax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiTensorAdamax")
            .field("parameters_with_state", &self.states.len())
            .finish_non_exhaustive()
    }
}

/// The state of one parameter, flattened.
#[derive(Clone, Debug)]
struct Moments {
    /// Steps taken.
    time: usize,
    moment: Tensor<1>,
    infinity_norm: Tensor<1>,
}

/// A parameter to step: its value and gradient flattened, and its learning rate.
struct Entry {
    id: ParamId,
    lr: f64,
    weight: Tensor<1>,
    grad: Tensor<1>,
}

/// Gathers the [`Entry`] of every parameter with a gradient, in the model's order.
struct Gather<'a> {
    grads: &'a mut GradientsParams,
    lr: &'a ModuleLearningRate,
    rule: &'a Adamax,
    path: Vec<String>,
    entries: Vec<Entry>,
}

impl ModuleVisitor for Gather<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let weight = param.val().inner();
        let grad = self.rule.decayed(grad, weight.clone());
        let path = self.path.join(".");
        self.entries.push(Entry {
            id: param.id,
            lr: self.lr.lr_from_param(param.id, Some(&path)),
            weight: flat(weight),
            grad: flat(grad),
        });
    }
}

/// Parameters stepped with one launch's scalars.
struct Group {
    time: usize,
    lr: f64,
    ids: Vec<ParamId>,
    grads: Vec<Tensor<1>>,
    buffers: Vec<AdamaxBuffers>,
}

impl MultiTensorAdamax {
    pub(super) fn new(rule: Adamax) -> Self {
        Self {
            rule,
            states: HashMap::new(),
        }
    }

    /// The steps taken by parameter `id`, or `None` before its first.
    pub fn steps_of(&self, id: ParamId) -> Option<usize> {
        self.states.get(&id).map(|state| state.time)
    }

    /// Sorts the entries into groups of one step count and learning rate, in the model's order,
    /// taking their states out of `self`.
    fn group(&mut self, entries: Vec<Entry>) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for entry in entries {
            let n = entry.weight.dims()[0];
            let device = entry.weight.device();
            let (time, moment, infinity_norm) = match self.states.remove(&entry.id) {
                Some(state) => (state.time + 1, state.moment, state.infinity_norm),
                // Written over at the first step.
                None => (1, Tensor::empty([n], &device), Tensor::empty([n], &device)),
            };
            let index = match groups
                .iter()
                .position(|g| g.time == time && g.lr.to_bits() == entry.lr.to_bits())
            {
                Some(index) => index,
                None => {
                    groups.push(Group {
                        time,
                        lr: entry.lr,
                        ids: Vec::new(),
                        grads: Vec::new(),
                        buffers: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[index];
            group.ids.push(entry.id);
            group.grads.push(entry.grad);
            group.buffers.push(AdamaxBuffers {
                weight: entry.weight,
                moment,
                infinity_norm,
            });
        }
        groups
    }
}

impl ModelOptimizer for MultiTensorAdamax {
    fn step<M: Module>(
        &mut self,
        lr: ModuleLearningRate,
        module: M,
        mut grads: GradientsParams,
    ) -> M {
        let mut gather = Gather {
            grads: &mut grads,
            lr: &lr,
            rule: &self.rule,
            path: Vec::new(),
            entries: Vec::new(),
        };
        module.visit(&mut gather);
        let entries = gather.entries;
        if entries.is_empty() {
            return module;
        }
        let mut updated = HashMap::with_capacity(entries.len());
        for group in self.group(entries) {
            let scalars = self.rule.scalars(group.lr, group.time);
            let stepped =
                kernels::adamax_steps(group.grads, group.buffers, group.time == 1, scalars);
            for (id, buffers) in group.ids.into_iter().zip(stepped) {
                updated.insert(id, buffers.weight);
                self.states.insert(
                    id,
                    Moments {
                        time: group.time,
                        moment: buffers.moment,
                        infinity_norm: buffers.infinity_norm,
                    },
                );
            }
        }
        module.map(&mut Replace { values: &updated })
    }

    /// One burnpack file `{stem}.bpk`: per parameter with a state, the tensors
    /// `{id}.moment` and `{id}.infinity_norm` and the scalar `{id}.time`.
    fn save<M: Module>(&self, _model: &M, stem: &Path) -> Result<(), RecordError> {
        let mut tensors = Vec::with_capacity(2 * self.states.len());
        let mut writer_scalars = Vec::with_capacity(self.states.len());
        let mut ids: Vec<&ParamId> = self.states.keys().collect();
        ids.sort_by_key(|id| id.val());
        for id in ids {
            let state = &self.states[id];
            for (leaf, tensor) in [
                ("moment", &state.moment),
                ("infinity_norm", &state.infinity_norm),
            ] {
                let (bytes, shape, dtype) = tensor.to_data().into_parts();
                tensors.push(burn_pack::Tensor::new(
                    format!("{}.{leaf}", id.val()),
                    dtype,
                    shape,
                    Some(id.val()),
                    bytes,
                ));
            }
            writer_scalars.push((format!("{}.time", id.val()), state.time as u64));
        }
        let mut writer = burn_pack::Writer::new(tensors).with_metadata(KIND_KEY, KIND);
        for (key, time) in writer_scalars {
            writer = writer.with_scalar(&key, time.into());
        }
        writer.write_to_file(with_suffix(stem, ""))?;
        Ok(())
    }

    fn load<M: Module>(mut self, model: &M, stem: &Path) -> Result<Self, RecordError> {
        let path = with_suffix(stem, "");
        let invalid = |what: String| RecordError::Validation(format!("{}: {what}", path.display()));
        let unreadable = |e: burn_pack::Error| RecordError::Io(format!("{}: {e}", path.display()));
        let reader = burn_pack::Reader::from_file(&path).map_err(unreadable)?;
        if reader.metadata().get(KIND_KEY).map(String::as_str) != Some(KIND) {
            return Err(invalid(format!(
                "not the state of a {KIND} (another optimizer's checkpoint?)"
            )));
        }
        let times: HashMap<u64, u64> = reader
            .scalars()
            .iter()
            .filter_map(|(key, value)| {
                let id = key.strip_suffix(".time")?.parse().ok()?;
                Some((id, u64::try_from(*value).ok()?))
            })
            .collect();
        let mut data: HashMap<String, TensorData> = HashMap::new();
        for tensor in reader.into_tensors().map_err(unreadable)? {
            let name = tensor.name.clone();
            let (_, dtype, shape, _, bytes) = tensor.into_parts().map_err(unreadable)?;
            data.insert(name, TensorData::from_bytes(bytes, shape, dtype));
        }
        let sizes = param_sizes(model);
        let mut states = HashMap::with_capacity(times.len());
        for (&id, &time) in &times {
            let param = ParamId::from(id);
            let Some(&(n, ref device)) = sizes.get(&param) else {
                return Err(invalid(format!(
                    "holds a state for parameter {param}, which the model does not have"
                )));
            };
            let mut take = |leaf: &str| {
                let data = data
                    .remove(&format!("{id}.{leaf}"))
                    .ok_or_else(|| invalid(format!("no `{id}.{leaf}` tensor")))?;
                if data.shape().num_elements() != n {
                    return Err(invalid(format!(
                        "`{id}.{leaf}` has {} values, parameter {param} has {n}",
                        data.shape().num_elements()
                    )));
                }
                Ok(Tensor::<1>::from_data(data, device))
            };
            let moment = take("moment")?;
            let infinity_norm = take("infinity_norm")?;
            if time == 0 {
                return Err(invalid(format!("parameter {param} has taken 0 steps")));
            }
            states.insert(
                param,
                Moments {
                    time: time as usize,
                    moment,
                    infinity_norm,
                },
            );
        }
        self.states = states;
        Ok(self)
    }
}

/// The metadata key naming the optimizer whose state a file holds.
const KIND_KEY: &str = "optimizer";
const KIND: &str = "MultiTensorAdamax";

/// The number of values and the device of every float parameter.
fn param_sizes<M: Module>(model: &M) -> HashMap<ParamId, (usize, burn::tensor::Device)> {
    struct Sizes(HashMap<ParamId, (usize, burn::tensor::Device)>);
    impl ModuleVisitor for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            self.0
                .insert(param.id, (value.shape().num_elements(), value.device()));
        }
    }
    let mut sizes = Sizes(HashMap::new());
    model.visit(&mut sizes);
    sizes.0
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{GradientsParams, ModuleOptimizer};
    use burn::tensor::{Device, Distribution, Tensor, TensorData};

    use super::*;
    use crate::optim::AdamaxConfig;

    use crate::test_support::{autodiff_devices as devices, same_arithmetic};

    #[derive(Module, Debug)]
    struct TwoLayers {
        first: Linear,
        second: Linear,
    }

    impl TwoLayers {
        fn new(device: &Device) -> Self {
            Self {
                first: LinearConfig::new(3, 5).init(device),
                second: LinearConfig::new(5, 2).init(device),
            }
        }

        /// A loss whose gradient reaches `second` only when `both`.
        fn loss(&self, x: Tensor<2>, both: bool) -> Tensor<1> {
            let hidden = self.first.forward(x).tanh();
            let hidden = if both {
                self.second.forward(hidden)
            } else {
                hidden
            };
            hidden.powi_scalar(2).mean()
        }
    }

    fn values<M: Module>(model: &M) -> Vec<Vec<f32>> {
        struct Values(Vec<Vec<f32>>);
        impl ModuleVisitor for Values {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.push(
                    param
                        .val()
                        .into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .unwrap(),
                );
            }
        }
        let mut all = Values(Vec::new());
        model.visit(&mut all);
        all.0
    }

    /// Four steps' inputs. Drawn once and shared by the runs compared (tests run in parallel,
    /// and another test seeding the device between two draws would change the second).
    fn inputs(device: &Device) -> Vec<Tensor<2>> {
        (0..4)
            .map(|_| Tensor::<2>::random([4, 3], Distribution::Uniform(-1.0, 1.0), device))
            .collect()
    }

    /// Steps `model` with `optim` on `inputs[steps]`, the second layer without a gradient at the
    /// first step.
    fn train<O: ModelOptimizer>(
        mut model: TwoLayers,
        optim: &mut O,
        inputs: &[Tensor<2>],
        steps: std::ops::Range<usize>,
    ) -> TwoLayers {
        for step in steps {
            let loss = model.loss(inputs[step].clone(), step > 0);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-2.into(), model, grads);
        }
        model
    }

    fn assert_close(actual: &[Vec<f32>], expected: &[Vec<f32>], device: &Device) {
        if same_arithmetic(device) {
            assert_eq!(actual, expected, "{device:?}");
            return;
        }
        for (a, e) in actual.iter().flatten().zip(expected.iter().flatten()) {
            assert!(
                (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                "{device:?}: {a} against {e}"
            );
        }
    }

    #[test]
    fn steps_like_the_per_parameter_adamax() {
        for device in devices() {
            device.seed(1);
            let model = TwoLayers::new(&device);
            let config = AdamaxConfig::new();
            let mut per_parameter = config.init();
            let mut multi = config.init_multi_tensor();
            let xs = inputs(&device);
            let expected = train(model.clone(), &mut per_parameter, &xs, 0..4);
            let actual = train(model.clone(), &mut multi, &xs, 0..4);
            // Bits on the CPU backends (the same loop per parameter), 1e-5 on wgpu.
            assert_close(&values(&actual), &values(&expected), &device);
            // The second layer had no gradient at the first step: one step fewer.
            assert_eq!(multi.steps_of(actual.first.weight.id), Some(4));
            assert_eq!(multi.steps_of(actual.second.weight.id), Some(3));
            assert!(actual.first.weight.val().is_require_grad());
            assert_ne!(values(&actual), values(&model), "the weights moved");
        }
    }

    /// Through the learner: two FPTT batches of a spiking classifier (LTC, readout, FPTT's
    /// regulariser and clipping) give the same weights with either optimizer (the network, the
    /// inputs and the targets built once for both): bits on the CPU backends, 1e-5 on wgpu.
    #[test]
    fn a_sequence_learner_trains_alike_with_either_optimizer() {
        use crate::prelude::*;
        for device in devices() {
            device.seed(4);
            let mut net = SpikingClassifierConfig::new(2, vec![8], 3).init(&device);
            // A zero initial membrane: the uniform one draws from the device's generator at every
            // batch, which the tests running beside this one draw from too.
            net.layers[0].initial_membrane = InitialMembrane::Zeros;
            let x = Tensor::<3>::random([4, 6, 2], Distribution::Uniform(0.0, 1.0), &device);
            let y = Tensor::<1, burn::tensor::Int>::from_ints([0, 1, 2, 1], &device);
            let train = |multi: bool| -> Vec<Vec<f32>> {
                let net = net.clone();
                let config = AdamaxConfig::new();
                let rule = FpttConfig::new();
                if multi {
                    let optim = config.init_multi_tensor();
                    let mut learner = SequenceLearner::new(net, optim, 1e-2, rule).unwrap();
                    for _ in 0..2 {
                        learner.train_batch(x.clone(), y.clone()).unwrap();
                    }
                    values(learner.model())
                } else {
                    let mut learner = SequenceLearner::new(net, config.init(), 1e-2, rule).unwrap();
                    for _ in 0..2 {
                        learner.train_batch(x.clone(), y.clone()).unwrap();
                    }
                    values(learner.model())
                }
            };
            let (multi, per_parameter) = (train(true), train(false));
            assert_close(&multi, &per_parameter, &device);
        }
    }

    #[test]
    fn a_constant_gradient_moves_each_weight_by_the_learning_rate() {
        // g constant: m_t = (1 − β1ᵗ) g, u_t = |g| + ε, so that every step is
        // lr · m / ((1 − β1ᵗ) u) = lr · sign(g) (to ε / |g|).
        for device in devices() {
            let mut model = LinearConfig::new(2, 1).init(&device);
            model.weight = model.weight.map(|w| {
                Tensor::<2>::from_data(TensorData::from([[1.0f32], [1.0]]), &w.device())
                    .autodiff()
                    .require_grad()
            });
            let bias_before = bias_of(&model);
            let mut optim = AdamaxConfig::new().init_multi_tensor();
            let x = Tensor::<2>::from_data(TensorData::from([[1.0f32, -2.0]]), &device);
            for _ in 0..3 {
                // d/dW (x W + b) = xᵀ: (1, −2); d/db = 1.
                let loss = model.forward(x.clone()).sum();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(0.1.into(), model, grads);
            }
            let weight = model
                .weight
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            let expected = [0.7f32, 1.3];
            for (w, e) in weight.iter().zip(expected) {
                assert!((w - e).abs() < 1e-5, "{device:?}: {weight:?}");
            }
            // d/db = 1: the bias moves by −0.1 a step from wherever it started.
            let moved = bias_of(&model) - bias_before;
            assert!((moved + 0.3).abs() < 1e-5, "{device:?}: {moved}");
        }
    }

    fn bias_of(model: &Linear) -> f32 {
        let bias = model.bias.as_ref().expect("a bias").val();
        bias.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()[0]
    }

    #[test]
    fn a_saved_state_resumes_the_same_steps() {
        let dir = tempfile_dir("resume");
        for device in devices() {
            device.seed(2);
            let model = TwoLayers::new(&device);
            let config = AdamaxConfig::new();
            let xs = inputs(&device);
            let mut uninterrupted = config.init_multi_tensor();
            let expected = train(model.clone(), &mut uninterrupted, &xs, 0..4);

            let mut first = config.init_multi_tensor();
            let halfway = train(model, &mut first, &xs, 0..2);
            let stem = dir.join("optimizer");
            first.save(&halfway, &stem).unwrap();
            let mut resumed = config.init_multi_tensor().load(&halfway, &stem).unwrap();
            assert_eq!(resumed.steps_of(halfway.first.weight.id), Some(2));
            let actual = train(halfway, &mut resumed, &xs, 2..4);
            assert_eq!(values(&actual), values(&expected), "{device:?}");
        }
    }

    #[test]
    fn loading_names_what_does_not_fit() {
        let dir = tempfile_dir("bad");
        let device = crate::default_device().autodiff();
        let model = TwoLayers::new(&device);
        let mut optim = AdamaxConfig::new().init_multi_tensor();
        let xs = inputs(&device);
        let model = train(model, &mut optim, &xs, 0..2);

        // No file.
        let missing = dir.join("missing");
        let err = AdamaxConfig::new()
            .init_multi_tensor()
            .load(&model, &missing)
            .expect_err("a missing file is an error")
            .to_string();
        assert!(err.contains("missing.bpk"), "{err}");

        // Another optimizer's file.
        let mut burn_optim: ModuleOptimizer = AdamaxConfig::new().init();
        let _ = train(TwoLayers::new(&device), &mut burn_optim, &xs, 0..1);
        let other = dir.join("per-parameter");
        ModelOptimizer::save(&burn_optim, &model, &other).unwrap();
        let err = AdamaxConfig::new()
            .init_multi_tensor()
            .load(&model, &other)
            .expect_err("another optimizer's state is an error")
            .to_string();
        assert!(
            err.contains("not the state of a MultiTensorAdamax"),
            "{err}"
        );

        // A model without the saved parameters (fresh ids).
        let stem = dir.join("optimizer");
        optim.save(&model, &stem).unwrap();
        let err = AdamaxConfig::new()
            .init_multi_tensor()
            .load(&TwoLayers::new(&device), &stem)
            .expect_err("a state for parameters the model lacks is an error")
            .to_string();
        assert!(err.contains("which the model does not have"), "{err}");

        // A model whose parameter of the same id has another size.
        let mut other_size = model.clone();
        other_size.second.weight = Param::initialized(
            model.second.weight.id,
            Tensor::<2>::zeros([5, 3], &device).require_grad(),
        );
        let err = AdamaxConfig::new()
            .init_multi_tensor()
            .load(&other_size, &stem)
            .expect_err("a state of another size is an error")
            .to_string();
        assert!(
            err.contains("has 10 values") && err.contains("has 15"),
            "{err}"
        );
    }

    fn tempfile_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "burn-fptt-multi-tensor-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
