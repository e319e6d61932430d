//! NIR graphs in HDF5 files, laid out as the `nir` Python package (1.0) writes them:
//! `/version`, and under `/node` the graph's `type`, `nodes/<name>/...` and `edges` (`[n, 2]`
//! strings); each node has its `type` and one dataset per field.

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group};

use super::error::{IMPORTABLE, NirError};
use super::graph::{NirArray, NirGraph, NirNode};

/// The NIR version written into files.
const NIR_VERSION: &str = "1.0.8";

/// Writes `graph` to the NIR file `path` (HDF5), replacing it.
///
/// # Errors
///
/// [`NirError::File`] naming the file when it cannot be written, or the error of
/// [`NirGraph::validate`].
pub fn write(graph: &NirGraph, path: impl AsRef<Path>) -> Result<(), NirError> {
    let path = path.as_ref();
    graph.validate()?;
    let fail = |err: hdf5::Error| NirError::File {
        path: path.to_path_buf(),
        reason: err.to_string(),
    };
    let file = File::create(path).map_err(fail)?;
    let fail_name = |reason: String| NirError::File {
        path: path.to_path_buf(),
        reason,
    };
    write_string(&file, "version", NIR_VERSION).map_err(fail)?;
    let root = file.create_group("node").map_err(fail)?;
    write_string(&root, "type", "NIRGraph").map_err(fail)?;
    let nodes = root.create_group("nodes").map_err(fail)?;
    for (name, node) in &graph.nodes {
        unicode(name).map_err(&fail_name)?;
        let group = nodes.create_group(name).map_err(fail)?;
        write_string(&group, "type", node.kind()).map_err(fail)?;
        match node {
            NirNode::Input { shape } | NirNode::Output { shape } => {
                let shape: Vec<i64> = shape.iter().map(|&n| n as i64).collect();
                group
                    .new_dataset::<i64>()
                    .shape([shape.len()])
                    .create("shape")
                    .and_then(|ds| ds.write_raw(&shape))
                    .map_err(fail)?;
            }
            _ => {
                for (field, array) in node.arrays() {
                    group
                        .new_dataset::<f64>()
                        .shape(array.shape.clone())
                        .create(field)
                        .and_then(|ds| ds.write_raw(&array.data))
                        .map_err(fail)?;
                }
            }
        }
    }
    let edges = graph
        .edges
        .iter()
        .flat_map(|(from, to)| [from, to])
        .map(|name| {
            unicode(name).map_err(|reason| NirError::File {
                path: path.to_path_buf(),
                reason,
            })
        })
        .collect::<Result<Vec<VarLenUnicode>, NirError>>()?;
    root.new_dataset::<VarLenUnicode>()
        .shape([graph.edges.len(), 2])
        .create("edges")
        .and_then(|ds| ds.write_raw(&edges))
        .map_err(fail)?;
    Ok(())
}

/// `name` as an HDF5 string; names with a NUL byte cannot be stored.
fn unicode(name: &str) -> Result<VarLenUnicode, String> {
    name.parse()
        .map_err(|_| format!("node name {name:?} holds a NUL byte, which HDF5 cannot store"))
}

fn write_string(group: &Group, name: &str, value: &'static str) -> hdf5::Result<()> {
    let value = unicode(value).map_err(hdf5::Error::from)?;
    group
        .new_dataset::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&value)
}

/// Reads the NIR file `path` (HDF5, as the `nir` Python package writes it).
///
/// # Errors
///
/// [`NirError::File`] naming the file when it cannot be opened or is not a NIR graph;
/// [`NirError::UnknownNode`] for a node type this crate does not map (convolutions, pooling,
/// nested graphs, ...); [`NirError::MissingField`] naming the node and the field it lacks;
/// or the error of [`NirGraph::validate`].
pub fn read(path: impl AsRef<Path>) -> Result<NirGraph, NirError> {
    let path = path.as_ref();
    let fail = |reason: String| NirError::File {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|err| fail(err.to_string()))?;
    let root = file
        .group("node")
        .map_err(|_| fail("no group `node`: not a NIR file".into()))?;
    let kind = read_string(&root, "type").map_err(&fail)?;
    if kind != "NIRGraph" {
        return Err(fail(format!("the root node is a {kind}, not a NIRGraph")));
    }
    let mut graph = NirGraph::default();
    let nodes = root
        .group("nodes")
        .map_err(|_| fail("the graph has no `nodes` group".into()))?;
    for name in nodes.member_names().map_err(|err| fail(err.to_string()))? {
        let group = nodes.group(&name).map_err(|err| fail(err.to_string()))?;
        let node = read_node(&name, &group).map_err(|err| match err {
            ReadError::Nir(err) => err,
            ReadError::Hdf5(reason) => fail(format!("node `{name}`: {reason}")),
        })?;
        graph.add_node(name, node);
    }
    let edges = root
        .dataset("edges")
        .map_err(|_| fail("the graph has no `edges` dataset".into()))?;
    let names = read_strings(&edges).map_err(|err| fail(format!("edges: {err}")))?;
    match edges.shape()[..] {
        [_, 2] => {}
        [0] if names.is_empty() => {}
        ref other => return Err(fail(format!("edges must be [n, 2], got {other:?}"))),
    }
    for pair in names.chunks(2) {
        graph.add_edge(pair[0].clone(), pair[1].clone());
    }
    graph.validate()?;
    Ok(graph)
}

enum ReadError {
    Nir(NirError),
    Hdf5(String),
}

impl From<hdf5::Error> for ReadError {
    fn from(err: hdf5::Error) -> Self {
        Self::Hdf5(err.to_string())
    }
}

impl From<String> for ReadError {
    fn from(reason: String) -> Self {
        Self::Hdf5(reason)
    }
}

fn read_node(name: &str, group: &Group) -> Result<NirNode, ReadError> {
    let kind = read_string(group, "type")?;
    let array = |field: &str| -> Result<NirArray, ReadError> {
        let dataset = group.dataset(field).map_err(|_| {
            ReadError::Nir(NirError::MissingField {
                node: name.to_string(),
                field: field.to_string(),
            })
        })?;
        Ok(NirArray {
            shape: dataset.shape(),
            data: dataset.read_raw::<f64>()?,
        })
    };
    // Files written before NIR 1.0 have no v_reset: it was 0.
    let v_reset = |like: &NirArray| -> Result<NirArray, ReadError> {
        if group.link_exists("v_reset") {
            array("v_reset")
        } else {
            Ok(NirArray::filled(like.len(), 0.0))
        }
    };
    let shape = |field: &str| -> Result<Vec<usize>, ReadError> {
        let values = array(field)?;
        Ok(values.data.iter().map(|&n| n as usize).collect())
    };
    Ok(match kind.as_str() {
        "Input" => NirNode::Input {
            shape: shape("shape")?,
        },
        "Output" => NirNode::Output {
            shape: shape("shape")?,
        },
        "Affine" => NirNode::Affine {
            weight: array("weight")?,
            bias: array("bias")?,
        },
        "Linear" => NirNode::Linear {
            weight: array("weight")?,
        },
        "LIF" => {
            let v_threshold = array("v_threshold")?;
            NirNode::Lif {
                tau: array("tau")?,
                r: array("r")?,
                v_leak: array("v_leak")?,
                v_reset: v_reset(&v_threshold)?,
                v_threshold,
            }
        }
        "CubaLIF" => {
            let v_threshold = array("v_threshold")?;
            let w_in = if group.link_exists("w_in") {
                array("w_in")?
            } else {
                NirArray::filled(v_threshold.len(), 1.0)
            };
            NirNode::CubaLif {
                tau_syn: array("tau_syn")?,
                tau_mem: array("tau_mem")?,
                r: array("r")?,
                v_leak: array("v_leak")?,
                v_reset: v_reset(&v_threshold)?,
                v_threshold,
                w_in,
            }
        }
        "LI" => NirNode::Li {
            tau: array("tau")?,
            r: array("r")?,
            v_leak: array("v_leak")?,
        },
        other => {
            return Err(ReadError::Nir(NirError::UnknownNode {
                node: name.to_string(),
                kind: other.to_string(),
                supported: IMPORTABLE,
            }));
        }
    })
}

fn read_string(group: &Group, name: &str) -> Result<String, String> {
    let dataset = group
        .dataset(name)
        .map_err(|_| format!("no `{name}` dataset"))?;
    let mut values = read_strings(&dataset)?;
    if values.len() != 1 {
        return Err(format!("`{name}` holds {} strings, not one", values.len()));
    }
    Ok(values.remove(0))
}

/// Every string of a dataset, whichever string type h5py or another writer chose.
fn read_strings(dataset: &Dataset) -> Result<Vec<String>, String> {
    let descriptor = dataset
        .dtype()
        .and_then(|dtype| dtype.to_descriptor())
        .map_err(|err| err.to_string())?;
    let strings = match descriptor {
        TypeDescriptor::VarLenUnicode => dataset
            .read_raw::<VarLenUnicode>()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect()),
        TypeDescriptor::VarLenAscii => dataset
            .read_raw::<VarLenAscii>()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect()),
        TypeDescriptor::FixedAscii(_) | TypeDescriptor::FixedUnicode(_) => dataset
            .read_raw::<hdf5::types::FixedAscii<255>>()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect()),
        other => return Err(format!("holds {other}, not strings")),
    };
    strings.map_err(|err| err.to_string())
}
