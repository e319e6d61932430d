//! The IDX format of the MNIST files, gzip-compressed or raw, with every header field checked.
//!
//! An IDX file is a 4-byte magic number (`0, 0, type, rank`), `rank` big-endian u32 dimensions,
//! then the values. MNIST uses type `0x08` (unsigned bytes): images are rank 3
//! (`count x 28 x 28`), labels rank 1.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{DataError, SequenceSet};

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes (`.gz` or raw, recognised by content).
///
/// # Errors
///
/// When the file cannot be read or decompressed, the magic number is not that of an unsigned-byte
/// IDX array, or the data are shorter or longer than the header says. The error names the file.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|source| DataError::Idx {
        path: path.to_path_buf(),
        source,
    })
}

/// What is wrong with the bytes of an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdxError {
    /// Fewer than the 4 bytes of the magic number.
    #[error("{len} bytes: too short for an IDX magic number")]
    TooShort {
        /// Bytes in the file.
        len: usize,
    },
    /// A magic number that does not start `00 00`.
    #[error(
        "magic number {:02x} {:02x} {:02x} {:02x} is not an IDX header (must start 00 00)",
        magic[0], magic[1], magic[2], magic[3]
    )]
    Magic {
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// A data type other than unsigned bytes (`0x08`).
    #[error("IDX data type 0x{code:02x} is not unsigned bytes (0x08)")]
    DataType {
        /// The type code found.
        code: u8,
    },
    /// Rank 0: no dimensions.
    #[error("IDX rank 0: no dimensions")]
    ZeroRank,
    /// Fewer bytes than the header of `rank` dimensions needs.
    #[error("truncated header: rank {rank} needs {needed} bytes, the file has {len}")]
    TruncatedHeader {
        /// The rank.
        rank: usize,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes in the file.
        len: usize,
    },
    /// Dimensions whose product does not fit a `usize`.
    #[error("dimensions {dims:?} overflow")]
    Overflow {
        /// The dimensions.
        dims: Vec<usize>,
    },
    /// More or fewer data bytes than the dimensions need.
    #[error(
        "dimensions {dims:?} need {expected} data bytes, the file has {found}{}",
        if found < expected { " (truncated)" } else { " (trailing bytes)" }
    )]
    DataLength {
        /// The dimensions.
        dims: Vec<usize>,
        /// Data bytes they need.
        expected: usize,
        /// Data bytes after the header.
        found: usize,
    },
}

/// Parses the bytes of an IDX file of unsigned bytes.
///
/// # Errors
///
/// An [`IdxError`] naming what is wrong: too short for its header, wrong magic number, zero
/// rank, or a data length that does not match the dimensions.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, IdxError> {
    if bytes.len() < 4 {
        return Err(IdxError::TooShort { len: bytes.len() });
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(IdxError::Magic {
            magic: [bytes[0], bytes[1], bytes[2], bytes[3]],
        });
    }
    if bytes[2] != 0x08 {
        return Err(IdxError::DataType { code: bytes[2] });
    }
    let rank = usize::from(bytes[3]);
    if rank == 0 {
        return Err(IdxError::ZeroRank);
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(IdxError::TruncatedHeader {
            rank,
            needed: header,
            len: bytes.len(),
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let Some(expected) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return Err(IdxError::Overflow { dims });
    };
    let data = &bytes[header..];
    if data.len() != expected {
        return Err(IdxError::DataLength {
            dims,
            expected,
            found: data.len(),
        });
    }
    Ok(IdxArray {
        dims,
        values: data.to_vec(),
    })
}

/// The two files of one MNIST split.
fn split_files(dir: &Path, split: &str) -> Result<(PathBuf, PathBuf), DataError> {
    let prefix = if split == "train" { "train" } else { "t10k" };
    let find = |kind: &str| -> Result<PathBuf, DataError> {
        let base = format!(
            "{prefix}-{kind}-idx{}-ubyte",
            if kind == "images" { 3 } else { 1 }
        );
        [dir.join(format!("{base}.gz")), dir.join(&base)]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                DataError::io(
                    &dir.join(format!("{base}[.gz]")),
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (raw or .gz)"),
                )
            })
    };
    if !dir.is_dir() {
        return Err(DataError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "MNIST directory not found"),
        ));
    }
    Ok((find("images")?, find("labels")?))
}

/// How MNIST images become sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistSequence {
    /// Sequential MNIST: 784 steps of one pixel, in reading order.
    Pixels,
    /// 28 steps of one row of 28 pixels.
    Rows,
}

/// Loads an MNIST split (`"train"` or `"test"`) from `dir` (the four standard file names, raw or
/// `.gz`), pixels scaled to `[0, 1]`.
///
/// # Errors
///
/// When the directory or a file is missing or malformed, images are not `n x 28 x 28`, labels not
/// `n`, the counts differ, or a label exceeds 9. Each error names the file.
pub fn load_mnist(
    dir: &Path,
    split: &str,
    as_sequence: MnistSequence,
) -> Result<SequenceSet, DataError> {
    load_mnist_first(dir, split, as_sequence, usize::MAX)
}

/// Like [`load_mnist`], keeping only the first `n` images of the split (all when fewer). The
/// files are checked whole; only the kept images are converted to `f32`, so a small subset
/// of the 60 000 training images costs a small fraction of the memory.
///
/// # Errors
///
/// As [`load_mnist`].
pub fn load_mnist_first(
    dir: &Path,
    split: &str,
    as_sequence: MnistSequence,
    n: usize,
) -> Result<SequenceSet, DataError> {
    let (images_path, labels_path) = split_files(dir, split)?;
    let images = read_idx(&images_path)?;
    let labels = read_idx(&labels_path)?;
    if images.dims.len() != 3 || images.dims[1] != 28 || images.dims[2] != 28 {
        return Err(DataError::format(
            &images_path,
            format!("images must be n x 28 x 28, found {:?}", images.dims),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(DataError::format(
            &labels_path,
            format!("labels must be one-dimensional, found {:?}", labels.dims),
        ));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(DataError::format(
            &labels_path,
            format!(
                "{} labels for {} images in {}",
                labels.dims[0],
                images.dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some(bad) = labels.values.iter().find(|&&l| l > 9) {
        return Err(DataError::format(
            &labels_path,
            format!("label {bad} is not a digit 0..9"),
        ));
    }
    let kept = n.min(images.dims[0]);
    let inputs: Vec<f32> = images.values[..kept * 28 * 28]
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    drop(images);
    let mut labels = labels;
    labels.values.truncate(kept);
    let (length, features) = match as_sequence {
        MnistSequence::Pixels => (784, 1),
        MnistSequence::Rows => (28, 28),
    };
    SequenceSet::new(inputs, labels.values, length, features, 10)
}

/// The directory of the MNIST files: `explicit` if given, else `$BURN_FPTT_MNIST`, else
/// `data/mnist` of this repository.
pub fn mnist_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("BURN_FPTT_MNIST").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"))
}
