//! The bundled handwritten digits (UCI "Optical Recognition of Handwritten Digits" test set, as
//! shipped by scikit-learn): 1797 images of 8x8 pixels in 0..16, 10 classes. The file and its
//! attribution are in `data/digits/` of this repository.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{DataError, SequenceSet};

/// Where the bundled copy lives in this repository.
pub fn bundled_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits/digits.csv.gz")
}

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
    let mut text = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(raw.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| DataError::format(path, format!("not a valid gzip stream: {e}")))?;
    } else {
        text = String::from_utf8(raw).map_err(|_| DataError::format(path, "not UTF-8 text"))?;
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

/// The bundled digits.
///
/// # Errors
///
/// As [`load`].
pub fn bundled(as_sequence: DigitSequence) -> Result<SequenceSet, DataError> {
    load(&bundled_path(), as_sequence)
}
