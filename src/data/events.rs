//! Event streams (spikes with a time and a channel) binned into fixed-length sequences, as
//! tonic's `ToFrame` (a time window from time 0) and `Downsample` do for SHD, SSC and N-MNIST.

use crate::error::{ConfigError, check};

use super::{DataError, SequenceSet};

/// One event: when (seconds from the recording's start) and where (a channel index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Time in seconds.
    pub time: f64,
    /// Channel (input unit, or flattened polarity × row × column of a camera).
    pub channel: usize,
}

/// A labelled recording.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSample {
    /// The events, in any order.
    pub events: Vec<Event>,
    /// The class.
    pub label: u8,
}

/// How a recording becomes a sequence of `steps` steps of `features` values: step `t` counts
/// the events with `t · step_length <= time < (t + 1) · step_length` in each group of
/// `channel_factor` neighbouring channels; events at or after `steps · step_length` are
/// dropped. With `binary`, a step holds 1 where it has any event.
///
/// ```
/// use burn_fptt::data::events::{Event, EventBinning};
///
/// let binning = EventBinning::new(4, 2, 0.010).with_channel_factor(2);
/// let events = [
///     Event { time: 0.001, channel: 0 },
///     Event { time: 0.009, channel: 1 }, // same step, same channel group as the first
///     Event { time: 0.015, channel: 3 },
///     Event { time: 0.020, channel: 2 }, // past 2 steps of 10 ms: dropped
/// ];
/// assert_eq!(binning.bin(&events).unwrap(), vec![2.0, 0.0, 0.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventBinning {
    /// Channels of the sensor (700 for SHD and SSC, 2 × 34 × 34 for N-MNIST).
    pub channels: usize,
    /// Steps per sequence.
    pub steps: usize,
    /// Length of one step in seconds.
    pub step_length: f64,
    /// Neighbouring channels merged into one feature (1: none).
    pub channel_factor: usize,
    /// 1 where a step has any event, instead of the count.
    pub binary: bool,
}

impl EventBinning {
    /// `steps` steps of `step_length` seconds over `channels` channels, counts, no merging.
    pub fn new(channels: usize, steps: usize, step_length: f64) -> Self {
        Self {
            channels,
            steps,
            step_length,
            channel_factor: 1,
            binary: false,
        }
    }

    /// Merges groups of `factor` neighbouring channels.
    pub fn with_channel_factor(mut self, factor: usize) -> Self {
        self.channel_factor = factor;
        self
    }

    /// Marks steps with events by 1 instead of counting them.
    pub fn with_binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// Features per step: `ceil(channels / channel_factor)`.
    pub fn features(&self) -> usize {
        self.channels.div_ceil(self.channel_factor.max(1))
    }

    /// Checks every value.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field when a count is zero or the step length is not finite
    /// and positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check::positive_size("EventBinning.channels", self.channels)?;
        check::positive_size("EventBinning.steps", self.steps)?;
        check::positive_size("EventBinning.channel_factor", self.channel_factor)?;
        check::positive("EventBinning.step_length", self.step_length)
    }

    /// The sequence of one recording, `[steps][features]` row-major.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] from [`validate`](Self::validate), or one naming the event whose
    /// channel is not below `channels` or whose time is negative or not finite.
    pub fn bin(&self, events: &[Event]) -> Result<Vec<f32>, ConfigError> {
        self.validate()?;
        let features = self.features();
        let mut frames = vec![0.0f32; self.steps * features];
        for (i, event) in events.iter().enumerate() {
            if event.channel >= self.channels {
                return Err(ConfigError::new(
                    format!("event {i}.channel"),
                    event.channel,
                    format!("the sensor has {} channels", self.channels),
                ));
            }
            if !(event.time.is_finite() && event.time >= 0.0) {
                return Err(ConfigError::new(
                    format!("event {i}.time"),
                    event.time,
                    "event times must be finite and not negative",
                ));
            }
            let step = (event.time / self.step_length).floor();
            if step >= self.steps as f64 {
                continue;
            }
            let cell = &mut frames[step as usize * features + event.channel / self.channel_factor];
            *cell = if self.binary { 1.0 } else { *cell + 1.0 };
        }
        Ok(frames)
    }

    /// A sequence set of `samples` with `classes` classes.
    ///
    /// # Errors
    ///
    /// [`DataError::Format`] naming `source` and the sample when binning fails, or the error of
    /// [`SequenceSet::new`] (a label not below `classes`).
    pub fn to_sequences(
        &self,
        samples: &[EventSample],
        classes: usize,
        source: &std::path::Path,
    ) -> Result<SequenceSet, DataError> {
        let mut inputs = Vec::with_capacity(samples.len() * self.steps * self.features());
        for (i, sample) in samples.iter().enumerate() {
            let frames = self.bin(&sample.events).map_err(|err| DataError::Format {
                path: source.to_path_buf(),
                reason: format!("sample {i}: {err}"),
            })?;
            inputs.extend(frames);
        }
        let labels = samples.iter().map(|s| s.label).collect();
        SequenceSet::new(inputs, labels, self.steps, self.features(), classes)
    }
}
