//! Plots written after training: spike rasters of a few samples per layer, and training curves
//! read back from burn-train's metric logs. PNG, drawn with `plotters`.
//!
//! Text needs a TrueType font: the first that exists of `$BURN_FPTT_FONT` and the usual
//! DejaVu / Liberation / Arial paths.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::Tensor;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::step::{SpikingLayer, SpikingModel};

/// Why a plot was not written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No TrueType font was found for the labels.
    #[error(
        "no TrueType font found for plot labels (tried {}); set BURN_FPTT_FONT to a .ttf file",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoFont {
        /// The font files tried, in order.
        tried: Vec<PathBuf>,
    },
    /// Drawing or encoding failed.
    #[error("cannot draw {path}: {reason}")]
    Draw {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The metric logs hold nothing to plot.
    #[error("no {metric} values in the metric logs under {dir}")]
    NoData {
        /// The training directory.
        dir: PathBuf,
        /// The metric looked for.
        metric: String,
    },
}

const FONT: &str = "sans-serif";

fn font_candidates() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::env::var_os("BURN_FPTT_FONT")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    paths.extend(
        [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/Library/Fonts/Arial.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ]
        .map(PathBuf::from),
    );
    paths
}

/// Registers the first font found, once per process.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<Result<(), Vec<PathBuf>>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let candidates = font_candidates();
            for path in &candidates {
                if let Ok(bytes) = std::fs::read(path) {
                    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                    if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                        return Ok(());
                    }
                }
            }
            Err(candidates)
        })
        .clone()
        .map_err(|tried| PlotError::NoFont { tried })
}

fn draw_error(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |reason| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    }
}

/// The spikes of every layer over whole sequences, read back from the device.
#[derive(Debug, Clone)]
pub struct SpikeTrains {
    /// The layers, input side first.
    pub layers: Vec<SpikingLayer>,
    /// Number of sequences.
    pub samples: usize,
    /// Steps per sequence.
    pub steps: usize,
    /// Per layer, `[sample][step][neuron]` flattened, 0 or 1.
    pub spikes: Vec<Vec<f32>>,
}

impl SpikeTrains {
    /// Runs `inputs` (`[batch, time, features]`) through `model` from a fresh state without
    /// gradients, keeping every layer's spikes.
    ///
    /// # Panics
    ///
    /// When `inputs` has no steps or does not fit the model.
    pub fn record<M: SpikingModel>(model: &M, inputs: Tensor<3>) -> Self {
        let model = model.valid();
        let inputs = inputs.inner();
        let [batch, steps, _] = inputs.dims();
        let layers = model.spiking_layers();
        let mut per_layer: Vec<Vec<Tensor<2>>> = vec![Vec::with_capacity(steps); layers.len()];
        super::output::run_observing_spikes(&model, &inputs, |spikes| {
            for (list, layer_spikes) in per_layer.iter_mut().zip(spikes) {
                list.push(layer_spikes);
            }
        });
        let spikes = per_layer
            .into_iter()
            .map(|list| {
                Tensor::stack::<3>(list, 1)
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("spikes are float")
            })
            .collect();
        Self {
            layers,
            samples: batch,
            steps,
            spikes,
        }
    }

    /// Whether `neuron` of `layer` spiked at `step` of `sample`.
    pub fn fired(&self, layer: usize, sample: usize, step: usize, neuron: usize) -> bool {
        let neurons = self.layers[layer].neurons;
        self.spikes[layer][(sample * self.steps + step) * neurons + neuron] > 0.5
    }

    /// Spikes of `layer` in `sample`.
    pub fn count(&self, layer: usize, sample: usize) -> usize {
        let size = self.steps * self.layers[layer].neurons;
        self.spikes[layer][sample * size..(sample + 1) * size]
            .iter()
            .filter(|&&s| s > 0.5)
            .count()
    }
}

/// Draws a raster per layer (rows) and sample (columns): a dot for each spike, time on the x
/// axis, neuron on the y axis. `labels` names each sample's class in the panel titles.
///
/// # Errors
///
/// When no font is found or the file cannot be written.
pub fn spike_raster(trains: &SpikeTrains, labels: &[usize], path: &Path) -> Result<(), PlotError> {
    ensure_font()?;
    let err = draw_error(path);
    let (rows, cols) = (trains.layers.len(), trains.samples);
    let size = (360 * cols as u32, 300 * rows as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let panels = root.split_evenly((rows, cols));
    for (index, panel) in panels.iter().enumerate() {
        let (layer, sample) = (index / cols, index % cols);
        let info = &trains.layers[layer];
        let class = labels
            .get(sample)
            .map(|c| format!(", class {c}"))
            .unwrap_or_default();
        let rate = trains.count(layer, sample) as f64 / (trains.steps * info.neurons) as f64;
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!(
                    "{} - sample {sample}{class} ({:.1}% firing)",
                    info.name,
                    rate * 100.0
                ),
                (FONT, 15),
            )
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(40)
            .build_cartesian_2d(0..trains.steps, 0..info.neurons)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time step")
            .y_desc("neuron")
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let spikes = (0..trains.steps).flat_map(|t| {
            (0..info.neurons)
                .filter(move |&n| trains.fired(layer, sample, t, n))
                .map(move |n| Rectangle::new([(t, n), (t + 1, n + 1)], BLACK.filled()))
        });
        chart.draw_series(spikes).map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// The per-epoch means of a numeric metric from burn-train's logs in the training `directory`
/// (`SPLIT/epoch-N/NAME.log`), sorted by epoch: the epoch's final entry when there is one,
/// else the mean of the batch entries, each `value,count` weighted by its count.
pub fn metric_by_epoch(directory: &Path, split: &str, name: &str) -> Vec<(usize, f64)> {
    let file = format!("{}.log", name.replace(' ', "_"));
    let Ok(entries) = std::fs::read_dir(directory.join(split)) else {
        return Vec::new();
    };
    let mut points: Vec<(usize, f64)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let epoch: usize = entry
                .file_name()
                .to_str()?
                .strip_prefix("epoch-")?
                .parse()
                .ok()?;
            let text = std::fs::read_to_string(entry.path().join(&file)).ok()?;
            let (mut sum, mut weight) = (0.0, 0.0);
            for line in text.lines() {
                let mut parts = line.split(',');
                let Some(Ok(value)) = parts.next().map(str::parse::<f64>) else {
                    continue;
                };
                let count = match parts.next() {
                    // The epoch's own figure, when the metric logged one.
                    Some("final") => return Some((epoch, value)),
                    None => 1.0,
                    Some(count) => count.parse::<f64>().unwrap_or(1.0),
                };
                if value.is_finite() {
                    sum += value * count;
                    weight += count;
                }
            }
            (weight > 0.0).then(|| (epoch, sum / weight))
        })
        .collect();
    points.sort_by_key(|&(epoch, _)| epoch);
    points
}

/// One line of a curve plot: its split and `(epoch, value)` points.
type Curve = (&'static str, Vec<(usize, f64)>);

/// Draws loss and accuracy per epoch, training and validation, from the metric logs in the
/// training `directory`.
///
/// # Errors
///
/// When there is no loss in the logs, no font is found, or the file cannot be written.
pub fn training_curves(directory: &Path, path: &Path) -> Result<(), PlotError> {
    let panels = [("Loss", "cross-entropy"), ("Accuracy", "accuracy (%)")];
    let series: Vec<Vec<Curve>> = panels
        .iter()
        .map(|(metric, _)| {
            ["train", "valid"]
                .iter()
                .map(|split| (*split, metric_by_epoch(directory, split, metric)))
                .collect()
        })
        .collect();
    if series[0].iter().all(|(_, points)| points.is_empty()) {
        return Err(PlotError::NoData {
            dir: directory.to_path_buf(),
            metric: "Loss".to_string(),
        });
    }
    ensure_font()?;
    let err = draw_error(path);
    let root = BitMapBackend::new(path, (1100, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let areas = root.split_evenly((1, 2));
    for ((area, (metric, unit)), lines) in areas.iter().zip(panels).zip(&series) {
        let values = lines.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| v));
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (low, high) = if low.is_finite() {
            let pad = ((high - low) * 0.1).max(1e-3);
            (low - pad, high + pad)
        } else {
            (0.0, 1.0)
        };
        let last = lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(e, _)| e))
            .max()
            .unwrap_or(1);
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{metric} per epoch"), (FONT, 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.5..last as f64 + 0.5, low..high)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(unit)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for ((split, points), color) in lines.iter().zip([BLUE, RED]) {
            if points.is_empty() {
                continue;
            }
            let xy: Vec<(f64, f64)> = points.iter().map(|&(e, v)| (e as f64, v)).collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(*split)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart
                .draw_series(xy.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}
