//! burn-train metrics for spiking networks: spike rate per layer, synaptic operations,
//! optimizer updates per batch and process memory.

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use super::output::{SpikeActivity, UpdatesInput};

/// Implements [`Numeric`] from a `state: NumericMetricState` field.
macro_rules! numeric_from_state {
    ($metric:ty) => {
        impl Numeric for $metric {
            fn value(&self) -> Option<NumericEntry> {
                Some(self.state.current_value())
            }

            fn running_value(&self) -> Option<NumericEntry> {
                Some(self.state.running_value())
            }

            fn final_value(&self) -> NumericEntry {
                self.state.final_value()
            }
        }
    };
}

fn numeric(unit: Option<&str>, higher_is_better: bool) -> MetricAttributes {
    NumericAttributes {
        unit: unit.map(str::to_string),
        higher_is_better,
    }
    .into()
}

/// Mean spikes per neuron and step of one spiking layer, in percent, averaged over the
/// batch's neurons, steps and samples.
///
/// ```
/// use burn_fptt::train::SpikeRateMetric;
/// use burn::train::metric::Metric;
///
/// let metric = SpikeRateMetric::new(0, "ltc1");
/// assert_eq!(metric.name().as_str(), "Spike rate ltc1");
/// ```
#[derive(Clone)]
pub struct SpikeRateMetric {
    layer: usize,
    name: MetricName,
    state: NumericMetricState,
}

impl SpikeRateMetric {
    /// The rate of the `layer`-th spiking layer (0-based, input side first), shown as `name`.
    pub fn new(layer: usize, name: &str) -> Self {
        Self {
            layer,
            name: Arc::new(format!("Spike rate {name}")),
            state: NumericMetricState::new(),
        }
    }

    /// One metric per spiking layer of `model`.
    pub fn for_layers(layers: &[crate::step::SpikingLayer]) -> Vec<Self> {
        layers
            .iter()
            .enumerate()
            .map(|(i, layer)| Self::new(i, &layer.name))
            .collect()
    }
}

impl Metric for SpikeRateMetric {
    type Input = SpikeActivity;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("Spikes per neuron and time step, in percent".to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        numeric(Some("%"), false)
    }

    fn update(
        &mut self,
        activity: &SpikeActivity,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let rate = activity.rate(self.layer)? * 100.0;
        self.state.update(rate, activity.samples);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).unit("%").precision(2)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).unit("%").precision(2)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

numeric_from_state!(SpikeRateMetric);

/// Synaptic operations per sample: each spike times the synapses it drives, summed over the
/// layers and the whole sequence.
#[derive(Clone)]
pub struct SynOpsMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl SynOpsMetric {
    /// The metric, named `"SynOps"`.
    pub fn new() -> Self {
        Self {
            name: Arc::new("SynOps".to_string()),
            state: NumericMetricState::new(),
        }
    }
}

impl Default for SynOpsMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for SynOpsMetric {
    type Input = SpikeActivity;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("Synaptic operations per sample (spikes times fan-out)".to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        numeric(Some("ops"), false)
    }

    fn update(
        &mut self,
        activity: &SpikeActivity,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.state
            .update(activity.synops_per_sample()?, activity.samples);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(0)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(0)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

numeric_from_state!(SynOpsMetric);

/// Optimizer updates per batch: the sequence length over `K` with FPTT (one per time step by
/// default), one per sequence (or truncation window) with BPTT.
#[derive(Clone)]
pub struct UpdatesMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl UpdatesMetric {
    /// The metric, named `"Updates per batch"`.
    pub fn new() -> Self {
        Self {
            name: Arc::new("Updates per batch".to_string()),
            state: NumericMetricState::new(),
        }
    }
}

impl Default for UpdatesMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for UpdatesMetric {
    type Input = UpdatesInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("Optimizer updates taken per batch of sequences".to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        numeric(None, true)
    }

    fn update(
        &mut self,
        updates: &UpdatesInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.state.update(updates.0 as f64, 1);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(1)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(1)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

numeric_from_state!(UpdatesMetric);

/// Resident memory of the training process (Linux `VmRSS`), in MiB.
#[derive(Clone)]
pub struct ProcessMemoryMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl ProcessMemoryMetric {
    /// The metric, named `"Process memory"`.
    pub fn new() -> Self {
        Self {
            name: Arc::new("Process memory".to_string()),
            state: NumericMetricState::new(),
        }
    }
}

impl Default for ProcessMemoryMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for ProcessMemoryMetric {
    type Input = ();

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("Resident memory of the process (VmRSS)".to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        numeric(Some("MiB"), false)
    }

    fn update(
        &mut self,
        _item: &(),
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let mib = crate::report::rss_mib().unwrap_or(f64::NAN);
        self.state.update(mib, 1);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).unit("MiB").precision(1)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).unit("MiB").precision(1)))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

numeric_from_state!(ProcessMemoryMetric);
