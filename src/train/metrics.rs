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

/// What a [`NumericMetric`] measures: one value per batch, with its name, description and
/// format.
pub trait Measure: Clone + Send + Sync {
    /// What the metric reads from a training or validation step.
    type Input;

    /// Name shown on the dashboard and in the logs.
    const NAME: &'static str;

    /// One sentence shown with the metric.
    const DESCRIPTION: &'static str;

    /// Unit shown after the value, if any.
    const UNIT: Option<&'static str>;

    /// Decimals shown.
    const PRECISION: usize;

    /// Whether a larger value is better (burn-train's early stopping and best checkpoint).
    const HIGHER_IS_BETTER: bool = false;

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
        let format = FormatOptions::new(self.name.clone()).precision(M::PRECISION);
        match M::UNIT {
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
        Some(M::DESCRIPTION.to_string())
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: M::UNIT.map(str::to_string),
            higher_is_better: M::HIGHER_IS_BETTER,
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

impl<M: Measure + Default> NumericMetric<M> {
    /// The metric, named [`Measure::NAME`].
    pub fn new() -> Self {
        Self::with_name(M::default(), M::NAME)
    }
}

impl<M: Measure + Default> Default for NumericMetric<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// Mean spikes per neuron and step of one spiking layer, in percent (the layer's index, input
/// side first, from 0).
#[derive(Clone, Copy, Debug)]
pub struct SpikeRate(pub usize);

impl Measure for SpikeRate {
    type Input = SpikeActivity;

    const NAME: &'static str = "Spike rate";
    const DESCRIPTION: &'static str = "Spikes per neuron and time step, in percent";
    const UNIT: Option<&'static str> = Some("%");
    const PRECISION: usize = 2;

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
        Self::with_name(SpikeRate(layer), format!("{} {name}", SpikeRate::NAME))
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

    const NAME: &'static str = "SynOps";
    const DESCRIPTION: &'static str = "Synaptic operations per sample (spikes times fan-out)";
    const UNIT: Option<&'static str> = Some("ops");
    const PRECISION: usize = 0;

    fn measure(&self, activity: &SpikeActivity) -> Result<(f64, usize), TensorReadError> {
        Ok((activity.synops_per_sample()?, activity.samples))
    }
}

/// Synaptic operations per sample, named `"SynOps"` (see [`SynOps`]).
pub type SynOpsMetric = NumericMetric<SynOps>;

/// Optimizer updates per batch: the sequence length over `K` with FPTT (one per time step by
/// default), one per sequence (or truncation window) with BPTT.
#[derive(Clone, Copy, Debug, Default)]
pub struct Updates;

impl Measure for Updates {
    type Input = UpdatesInput;

    const NAME: &'static str = "Updates per batch";
    const DESCRIPTION: &'static str = "Optimizer updates taken per batch of sequences";
    const UNIT: Option<&'static str> = None;
    const PRECISION: usize = 1;
    const HIGHER_IS_BETTER: bool = true;

    fn measure(&self, updates: &UpdatesInput) -> Result<(f64, usize), TensorReadError> {
        Ok((updates.0 as f64, 1))
    }
}

/// Optimizer updates per batch, named `"Updates per batch"` (see [`Updates`]).
pub type UpdatesMetric = NumericMetric<Updates>;

/// Resident memory of the training process (Linux `VmRSS`), in MiB; NaN where /proc cannot
/// be read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessMemory;

impl Measure for ProcessMemory {
    type Input = ();

    const NAME: &'static str = "Process memory";
    const DESCRIPTION: &'static str = "Resident memory of the process (VmRSS)";
    const UNIT: Option<&'static str> = Some("MiB");
    const PRECISION: usize = 1;

    fn measure(&self, _input: &()) -> Result<(f64, usize), TensorReadError> {
        Ok((crate::memory::rss_mib().unwrap_or(f64::NAN), 1))
    }
}

/// Process memory, named `"Process memory"` (see [`ProcessMemory`]).
pub type ProcessMemoryMetric = NumericMetric<ProcessMemory>;
