//! burn-train metrics for spiking networks: spike rate per layer, synaptic operations,
//! optimizer updates per batch and process memory.
//!
//! Each is a [`NumericMetric`] around a [`Measure`], which says what one batch's value is; the
//! metric keeps burn-train's running and epoch averages, weighted by the batch's samples.

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use super::output::{SpikeActivity, UpdatesInput};

/// What a [`NumericMetric`] measures: one value per batch, with its description and format.
pub trait Measure: Clone + Send + Sync {
    /// What the metric reads from a training or validation step.
    type Input;

    /// One sentence shown with the metric.
    fn description(&self) -> &'static str;

    /// Unit shown after the value, if any.
    fn unit(&self) -> Option<&'static str>;

    /// Decimals shown.
    fn precision(&self) -> usize;

    /// The batch's value and the number of items it averages over (its weight in the epoch
    /// mean).
    ///
    /// # Errors
    ///
    /// When a tensor the value needs cannot be read back from the device.
    fn measure(&self, input: &Self::Input) -> Result<(f64, usize), TensorReadError>;
}

/// A burn-train numeric metric (dashboard, logs, early stopping) for one [`Measure`]: its value
/// per batch, a running mean and the epoch's mean weighted by the items of each batch.
#[derive(Clone)]
pub struct NumericMetric<M> {
    measure: M,
    name: MetricName,
    state: NumericMetricState,
}

impl<M: Measure> NumericMetric<M> {
    /// `measure`, shown as `name`.
    pub fn with_name(measure: M, name: impl Into<String>) -> Self {
        Self {
            measure,
            name: Arc::new(name.into()),
            state: NumericMetricState::new(),
        }
    }

    fn format(&self) -> FormatOptions {
        let format = FormatOptions::new(self.name.clone()).precision(self.measure.precision());
        match self.measure.unit() {
            Some(unit) => format.unit(unit),
            None => format,
        }
    }
}

impl<M: Measure> Metric for NumericMetric<M> {
    type Input = M::Input;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some(self.measure.description().to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: self.measure.unit().map(str::to_string),
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        input: &M::Input,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let (value, items) = self.measure.measure(input)?;
        self.state.update(value, items);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl<M: Measure> Numeric for NumericMetric<M> {
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

/// Mean spikes per neuron and step of one spiking layer, in percent (the layer's index, input
/// side first, from 0).
#[derive(Clone, Copy, Debug)]
pub struct SpikeRate(pub usize);

impl Measure for SpikeRate {
    type Input = SpikeActivity;

    fn description(&self) -> &'static str {
        "Spikes per neuron and time step, in percent"
    }

    fn unit(&self) -> Option<&'static str> {
        Some("%")
    }

    fn precision(&self) -> usize {
        2
    }

    fn measure(&self, activity: &SpikeActivity) -> Result<(f64, usize), TensorReadError> {
        Ok((activity.rate(self.0)? * 100.0, activity.samples))
    }
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
pub type SpikeRateMetric = NumericMetric<SpikeRate>;

impl SpikeRateMetric {
    /// The rate of the `layer`-th spiking layer (0-based, input side first), shown as
    /// `"Spike rate {name}"`.
    pub fn new(layer: usize, name: &str) -> Self {
        Self::with_name(SpikeRate(layer), format!("Spike rate {name}"))
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

/// Synaptic operations per sample: each spike times the synapses it drives, summed over the
/// layers and the whole sequence.
#[derive(Clone, Copy, Debug, Default)]
pub struct SynOps;

impl Measure for SynOps {
    type Input = SpikeActivity;

    fn description(&self) -> &'static str {
        "Synaptic operations per sample (spikes times fan-out)"
    }

    fn unit(&self) -> Option<&'static str> {
        Some("ops")
    }

    fn precision(&self) -> usize {
        0
    }

    fn measure(&self, activity: &SpikeActivity) -> Result<(f64, usize), TensorReadError> {
        Ok((activity.synops_per_sample()?, activity.samples))
    }
}

/// Synaptic operations per sample, named `"SynOps"` (see [`SynOps`]).
pub type SynOpsMetric = NumericMetric<SynOps>;

impl SynOpsMetric {
    /// The metric, named `"SynOps"`.
    pub fn new() -> Self {
        Self::with_name(SynOps, "SynOps")
    }
}

impl Default for SynOpsMetric {
    fn default() -> Self {
        Self::new()
    }
}

/// Optimizer updates per batch: the sequence length over `K` with FPTT (one per time step by
/// default), one per sequence (or truncation window) with BPTT.
#[derive(Clone, Copy, Debug, Default)]
pub struct Updates;

impl Measure for Updates {
    type Input = UpdatesInput;

    fn description(&self) -> &'static str {
        "Optimizer updates taken per batch of sequences"
    }

    fn unit(&self) -> Option<&'static str> {
        None
    }

    fn precision(&self) -> usize {
        1
    }

    fn measure(&self, updates: &UpdatesInput) -> Result<(f64, usize), TensorReadError> {
        Ok((updates.0 as f64, 1))
    }
}

/// Optimizer updates per batch, named `"Updates per batch"` (see [`Updates`]).
pub type UpdatesMetric = NumericMetric<Updates>;

impl UpdatesMetric {
    /// The metric, named `"Updates per batch"`.
    pub fn new() -> Self {
        Self::with_name(Updates, "Updates per batch")
    }
}

impl Default for UpdatesMetric {
    fn default() -> Self {
        Self::new()
    }
}

/// Resident memory of the training process (Linux `VmRSS`), in MiB; NaN where /proc cannot
/// be read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessMemory;

impl Measure for ProcessMemory {
    type Input = ();

    fn description(&self) -> &'static str {
        "Resident memory of the process (VmRSS)"
    }

    fn unit(&self) -> Option<&'static str> {
        Some("MiB")
    }

    fn precision(&self) -> usize {
        1
    }

    fn measure(&self, _input: &()) -> Result<(f64, usize), TensorReadError> {
        Ok((crate::report::rss_mib().unwrap_or(f64::NAN), 1))
    }
}

/// Process memory, named `"Process memory"` (see [`ProcessMemory`]).
pub type ProcessMemoryMetric = NumericMetric<ProcessMemory>;

impl ProcessMemoryMetric {
    /// The metric, named `"Process memory"`.
    pub fn new() -> Self {
        Self::with_name(ProcessMemory, "Process memory")
    }
}

impl Default for ProcessMemoryMetric {
    fn default() -> Self {
        Self::new()
    }
}
