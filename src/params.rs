//! Parameters of a module as flat tensors keyed by their ids: gathered by a visitor, put back by
//! a mapper, and saved as records shaped like the module. Shared by the FPTT state and the
//! multi-tensor optimizer, which keep one flat tensor per parameter.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// `tensor` as one dimension.
pub(crate) fn flat<const D: usize>(tensor: Tensor<D>) -> Tensor<1> {
    let n = tensor.shape().num_elements();
    tensor.reshape([n])
}

/// Collects the trainable parameters, flattened, without autodiff.
#[derive(Default)]
struct Collect {
    values: HashMap<ParamId, Tensor<1>>,
    all: bool,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.all || param.is_require_grad() {
            self.values.insert(param.id, flat(param.val().inner()));
        }
    }
}

/// The parameters that require gradients, flattened, without autodiff.
pub(crate) fn trainable<M: Module>(model: &M) -> HashMap<ParamId, Tensor<1>> {
    let mut collect = Collect::default();
    model.visit(&mut collect);
    collect.values
}

/// Every parameter, flattened, without autodiff.
pub(crate) fn all_params<M: Module>(model: &M) -> HashMap<ParamId, Tensor<1>> {
    let mut collect = Collect {
        all: true,
        ..Default::default()
    };
    model.visit(&mut collect);
    collect.values
}

/// Replaces the value of each parameter in `values` (flat, reshaped to the parameter's dims),
/// keeping its id, device and autodiff settings (whether tracked, its checkpointing strategy,
/// whether it requires gradients).
pub(crate) struct Replace<'a> {
    pub(crate) values: &'a HashMap<ParamId, Tensor<1>>,
}

impl ModuleMapper for Replace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(value) = self.values.get(&param.id) else {
            return param;
        };
        let value = value.clone();
        param.map(|tensor| {
            let dims = tensor.dims();
            let require_grad = tensor.is_require_grad();
            let replaced = value.reshape(dims).to_device(&tensor.device());
            // Autodiff as before, under the parameter's own checkpointing strategy.
            let replaced = match tensor.gradient_checkpointing_strategy() {
                Some(strategy) => replaced
                    .autodiff()
                    .with_gradient_checkpointing_strategy(strategy),
                None => replaced,
            };
            if require_grad {
                replaced.require_grad()
            } else {
                replaced
            }
        })
    }
}

/// `stem` with `suffix` and `.bpk` appended to its file name.
pub(crate) fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = stem
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    name.push(".bpk");
    stem.with_file_name(name)
}
