//! The IDX reader and MNIST loader: every malformed input gives an error naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn_fptt::data::DataError;
use burn_fptt::data::IdxError;
use burn_fptt::data::idx::{MnistSequence, load_mnist, load_mnist_first, parse_idx, read_idx};

fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(values);
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A small valid MNIST directory: `n` images (pixel value = index) and labels.
fn mnist_dir(n: usize, labels: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..n * 784).map(|i| (i % 256) as u8).collect();
    write(
        dir.path(),
        "t10k-images-idx3-ubyte.gz",
        &gz(&idx(&[n as u32, 28, 28], &pixels)),
    );
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx(&[labels.len() as u32], labels),
    );
    dir
}

fn assert_names(err: DataError, file: &str, words: &[&str]) {
    let text = err.to_string();
    assert!(text.contains(file), "`{text}` does not name {file}");
    for word in words {
        assert!(text.contains(word), "`{text}` does not say `{word}`");
    }
}

#[test]
fn parses_raw_and_gzip_files() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    for path in [
        write(dir.path(), "a.idx", &bytes),
        write(dir.path(), "a.idx.gz", &gz(&bytes)),
    ] {
        let array = read_idx(&path).unwrap();
        assert_eq!(array.dims, vec![2, 3]);
        assert_eq!(array.values, vec![1, 2, 3, 4, 5, 6]);
    }
}

#[test]
fn malformed_headers_and_lengths_are_described() {
    let message = |bytes: &[u8]| parse_idx(bytes).unwrap_err().to_string();
    assert_eq!(parse_idx(&[0, 0]), Err(IdxError::TooShort { len: 2 }));
    assert!(message(&[0, 0]).contains("too short"));
    assert_eq!(
        parse_idx(&[1, 2, 8, 1, 0, 0, 0, 0]),
        Err(IdxError::Magic {
            magic: [1, 2, 8, 1]
        })
    );
    assert!(message(&[1, 2, 8, 1, 0, 0, 0, 0]).contains("magic number 01 02 08 01"));
    assert_eq!(
        parse_idx(&[0, 0, 0x0d, 1, 0, 0, 0, 0]),
        Err(IdxError::DataType { code: 0x0d })
    );
    assert!(message(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("data type 0x0d"));
    assert_eq!(parse_idx(&[0, 0, 8, 0]), Err(IdxError::ZeroRank));
    assert_eq!(
        parse_idx(&[0, 0, 8, 3, 0, 0]),
        Err(IdxError::TruncatedHeader {
            rank: 3,
            needed: 16,
            len: 6
        })
    );
    assert!(message(&[0, 0, 8, 3, 0, 0]).contains("truncated header"));
    let truncated = message(&idx(&[4], &[1, 2]));
    assert!(
        truncated.contains("need 4 data bytes") && truncated.contains("truncated"),
        "{truncated}"
    );
    assert_eq!(
        parse_idx(&idx(&[1], &[1, 2])),
        Err(IdxError::DataLength {
            dims: vec![1],
            expected: 1,
            found: 2
        })
    );
    assert!(message(&idx(&[1], &[1, 2])).contains("trailing"));
}

#[test]
fn truncated_and_corrupt_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = gz(&idx(&[100], &[7; 100]));
    let cut = write(dir.path(), "cut.gz", &full[..full.len() / 2]);
    assert_names(read_idx(&cut).unwrap_err(), "cut.gz", &["gzip"]);
    let short = write(dir.path(), "short.idx", &idx(&[100], &[7; 60]));
    assert_names(read_idx(&short).unwrap_err(), "short.idx", &["truncated"]);
    let garbage = write(dir.path(), "garbage.idx", b"not an idx file at all");
    assert_names(
        read_idx(&garbage).unwrap_err(),
        "garbage.idx",
        &["magic number"],
    );
    assert_names(
        read_idx(&dir.path().join("absent.idx")).unwrap_err(),
        "absent.idx",
        &[],
    );
}

#[test]
fn loads_a_small_mnist_split() {
    let dir = mnist_dir(3, &[5, 0, 9]);
    let set = load_mnist(dir.path(), "test", MnistSequence::Pixels).unwrap();
    assert_eq!((set.len(), set.length(), set.features()), (3, 784, 1));
    assert_eq!(set.labels(), &[5, 0, 9]);
    let rows = load_mnist(dir.path(), "test", MnistSequence::Rows).unwrap();
    assert_eq!((rows.length(), rows.features()), (28, 28));
    // Pixel i of the file is (i % 256) / 255: image 1 starts at file pixel 784.
    let (pixels, label) = set.item(1).unwrap();
    assert_eq!(label, 0);
    assert_eq!(pixels[0], (784 % 256) as f32 / 255.0);
    assert_eq!(pixels[783], ((784 + 783) % 256) as f32 / 255.0);
}

#[test]
fn loading_the_first_n_images_keeps_those_and_still_checks_the_files() {
    let dir = mnist_dir(3, &[5, 0, 9]);
    let first = load_mnist_first(dir.path(), "test", MnistSequence::Pixels, 2).unwrap();
    assert_eq!((first.len(), first.labels()), (2, &[5u8, 0][..]));
    let all = load_mnist(dir.path(), "test", MnistSequence::Pixels).unwrap();
    assert_eq!(first.item(1), all.item(1));
    let more = load_mnist_first(dir.path(), "test", MnistSequence::Pixels, 10).unwrap();
    assert_eq!(more.len(), 3);
    // A bad label after the kept images is still reported.
    let dir = mnist_dir(3, &[5, 0, 12]);
    assert_names(
        load_mnist_first(dir.path(), "test", MnistSequence::Pixels, 1).unwrap_err(),
        "t10k-labels-idx1-ubyte",
        &["label 12"],
    );
}

#[test]
fn count_mismatch_missing_directory_and_bad_labels_name_the_file() {
    let dir = mnist_dir(3, &[5, 0]);
    assert_names(
        load_mnist(dir.path(), "test", MnistSequence::Pixels).unwrap_err(),
        "t10k-labels-idx1-ubyte",
        &["2 labels for 3 images"],
    );
    let dir = mnist_dir(2, &[5, 12]);
    assert_names(
        load_mnist(dir.path(), "test", MnistSequence::Pixels).unwrap_err(),
        "t10k-labels-idx1-ubyte",
        &["label 12"],
    );
    let missing = Path::new("/nonexistent/mnist-dir");
    assert_names(
        load_mnist(missing, "test", MnistSequence::Pixels).unwrap_err(),
        "/nonexistent/mnist-dir",
        &["not found"],
    );
    let empty = tempfile::tempdir().unwrap();
    assert_names(
        load_mnist(empty.path(), "train", MnistSequence::Pixels).unwrap_err(),
        "train-images-idx3-ubyte",
        &["no such file"],
    );
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx(&[1, 14, 56], &[0; 784]),
    );
    write(dir.path(), "t10k-labels-idx1-ubyte", &idx(&[1], &[3]));
    assert_names(
        load_mnist(dir.path(), "test", MnistSequence::Pixels).unwrap_err(),
        "t10k-images-idx3-ubyte",
        &["n x 28 x 28", "[1, 14, 56]"],
    );
}

/// The real MNIST files, where this checkout has them beside it (`../shared/data/mnist`).
#[test]
fn real_mnist_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    if !dir.is_dir() {
        eprintln!("skipped: {} is not here", dir.display());
        return;
    }
    let test = load_mnist(&dir, "test", MnistSequence::Pixels).unwrap();
    assert_eq!(test.len(), 10_000);
    // The first test digit of MNIST is a 7, the first training digit a 5.
    assert_eq!(test.labels()[0], 7);
    let train = load_mnist(&dir, "train", MnistSequence::Rows).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.labels()[0], 5);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Any bytes at all: an array or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = parse_idx(&bytes);
    }

    /// A valid file parses back to its dimensions and values; cutting it short is an error.
    #[test]
    fn valid_arrays_round_trip(
        dims in proptest::collection::vec(1u32..5, 1..4),
        cut in 1usize..8,
        seed in proptest::num::u8::ANY,
    ) {
        let n: usize = dims.iter().map(|&d| d as usize).product();
        let values: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let bytes = idx(&dims, &values);
        let array = parse_idx(&bytes).unwrap();
        proptest::prop_assert_eq!(array.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
        proptest::prop_assert_eq!(array.values, values);
        let cut = cut.min(bytes.len());
        proptest::prop_assert!(parse_idx(&bytes[..bytes.len() - cut]).is_err());
    }
}

#[test]
fn step_permutations_reorder_time_and_are_checked() {
    use burn_fptt::data::SequenceSet;
    // One sample of 3 steps x 2 features: step t holds (10t, 10t + 1).
    let set = SequenceSet::new(vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0], vec![1], 3, 2, 2).unwrap();
    let permuted = set.permute_steps(&[2, 0, 1]).unwrap();
    let device = burn_fptt::default_device();
    let (x, _) = permuted.batches(1, None, &device).next().unwrap();
    let got: Vec<f32> = x.into_data().try_into_vec_as::<f32>().unwrap();
    assert_eq!(got, vec![20.0, 21.0, 0.0, 1.0, 10.0, 11.0]);
    for bad in [&[0, 1][..], &[0, 1, 1], &[0, 1, 3], &[0, 1, 2, 0]] {
        let err = set.permute_steps(bad).unwrap_err().to_string();
        assert!(err.contains("each of 0..3 once"), "{bad:?}: {err}");
    }
}
