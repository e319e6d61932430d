//! The bundled handwritten digits (UCI "Optical Recognition of Handwritten Digits" test set, as
//! shipped by scikit-learn): 1797 images of 8x8 pixels in 0..16, 10 classes. The file and its
//! attribution are in `data/digits/` of the repository and the package; the library embeds the
//! file (72 KiB), so [`bundled`] needs no path and works the same from a dependent crate.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::{DataError, SequenceSet};

/// The bundled file, gzip-compressed CSV, embedded in the library.
const BUNDLED: &[u8] = include_bytes!("../../data/digits/digits.csv.gz");

/// The name errors give the embedded file.
const BUNDLED_NAME: &str = "<bundled>/data/digits/digits.csv.gz";

/// How an 8x8 digit becomes a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitSequence {
    /// 8 steps of one row (8 features each).
    Rows,
    /// 64 steps of one pixel.
    Pixels,
}

/// Reads the digits CSV (gzip-compressed or plain): 64 pixel values 0..16 and a label 0..9 per
/// line. Pixels are scaled to `[0, 1]`.
///
/// # Errors
///
/// When the file cannot be read, a line does not have 65 numbers, a pixel is outside 0..16 or a
/// label outside 0..9; the error names the file and the line.
pub fn load(path: &Path, as_sequence: DigitSequence) -> Result<SequenceSet, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse(&raw, path, as_sequence)
}

/// Parses the bytes of a digits CSV; `path` names them in errors.
fn parse(raw: &[u8], path: &Path, as_sequence: DigitSequence) -> Result<SequenceSet, DataError> {
    let mut text = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(raw)
            .read_to_string(&mut text)
            .map_err(|e| DataError::format(path, format!("not a valid gzip stream: {e}")))?;
    } else {
        text = String::from_utf8(raw.to_vec())
            .map_err(|_| DataError::format(path, "not UTF-8 text"))?;
    }
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_error =
            |reason: String| DataError::format(path, format!("line {}: {reason}", number + 1));
        let values: Vec<&str> = line.split(',').map(str::trim).collect();
        if values.len() != 65 {
            return Err(line_error(format!(
                "expected 65 values, found {}",
                values.len()
            )));
        }
        for value in &values[..64] {
            let pixel: f32 = value
                .parse()
                .map_err(|_| line_error(format!("pixel `{value}` is not a number")))?;
            if !(0.0..=16.0).contains(&pixel) {
                return Err(line_error(format!("pixel {pixel} is outside 0..16")));
            }
            inputs.push(pixel / 16.0);
        }
        let label: u8 = values[64]
            .parse()
            .ok()
            .filter(|l| *l < 10)
            .ok_or_else(|| line_error(format!("label `{}` is not a digit 0..9", values[64])))?;
        labels.push(label);
    }
    if labels.is_empty() {
        return Err(DataError::format(path, "no samples"));
    }
    let (length, features) = match as_sequence {
        DigitSequence::Rows => (8, 8),
        DigitSequence::Pixels => (64, 1),
    };
    SequenceSet::new(inputs, labels, length, features, 10)
}

/// The bundled digits (1797 sequences), read from the copy embedded in the library: no file,
/// no path, the same from this repository and from a crate that depends on burn-fptt.
///
/// # Errors
///
/// None in practice (the embedded file is checked by this crate's tests); the signature is
/// [`load`]'s.
///
/// A dependent crate loads the digits and trains one epoch:
///
/// ```
/// use burn_fptt::data::digits::{self, DigitSequence};
/// use burn_fptt::prelude::*;
///
/// let data = digits::bundled(DigitSequence::Rows).unwrap();
/// assert_eq!((data.len(), data.length(), data.features()), (1797, 8, 8));
/// let (train, test) = data.take(256).split(0.25, 1);
///
/// let device = default_device().autodiff();
/// let net = SpikingClassifierConfig::new(8, vec![32], 10).init(&device);
/// let mut learner =
///     SequenceLearner::new(net, AdamaxConfig::new().init(), 3e-3, FpttConfig::new()).unwrap();
/// let reports = fit(&mut learner, &train, &test, &FitConfig::new(1, 32), |_| {}).unwrap();
/// assert_eq!(reports.len(), 1);
/// assert_eq!(reports[0].train.updates, 6 * 8); // 6 batches, one update per row
/// ```
pub fn bundled(as_sequence: DigitSequence) -> Result<SequenceSet, DataError> {
    parse(BUNDLED, Path::new(BUNDLED_NAME), as_sequence)
}
