//! Why a network could not be exported to NIR, or a NIR graph imported or read.

use std::path::PathBuf;

/// The node types [`NirNetwork::from_graph`](super::NirNetwork::from_graph) and the file reader take.
#[cfg(feature = "hdf5")]
pub(super) const IMPORTABLE: &str = "Input, Output, Affine, Linear, LIF, CubaLIF and LI";

/// Why a NIR export, import, read or write failed; each case names the layer, node, edge or
/// file at fault.
#[derive(Debug, thiserror::Error)]
pub enum NirError {
    /// A layer that NIR has no node for, or a setting of a layer that NIR cannot express.
    #[error("layer `{layer}` ({kind}) has no NIR equivalent: {reason}")]
    Unsupported {
        /// The name the layer was exported under.
        layer: String,
        /// The layer's type.
        kind: &'static str,
        /// What NIR lacks.
        reason: String,
    },
    /// A node type burn-fptt cannot import (convolutions, pooling, ...).
    #[error(
        "node `{node}` has type {kind}, which burn-fptt cannot import (it imports {supported})"
    )]
    UnknownNode {
        /// The node.
        node: String,
        /// Its NIR type.
        kind: String,
        /// The types that can be imported.
        supported: &'static str,
    },
    /// An edge to or from a node the graph does not have.
    #[error("edge {edge:?} names node `{node}`, which the graph does not have")]
    MissingNode {
        /// The missing node.
        node: String,
        /// The edge naming it.
        edge: (String, String),
    },
    /// A node field that a NIR file lacks.
    #[error("node `{node}` lacks its field `{field}`")]
    MissingField {
        /// The node.
        node: String,
        /// The missing field.
        field: String,
    },
    /// Arrays whose shapes disagree, or an edge between nodes of different widths.
    #[error("node `{node}`: {reason}")]
    Shape {
        /// The node.
        node: String,
        /// What disagrees.
        reason: String,
    },
    /// A parameter value burn-fptt's layers cannot take (a non-uniform threshold, a reset to a
    /// non-zero potential, a time constant that the chosen discretisation cannot map).
    #[error("node `{node}`: {reason}")]
    Parameter {
        /// The node.
        node: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// A graph whose connections are not a chain of layers that burn-fptt can build.
    #[error("the graph cannot be built as a chain of layers at `{node}`: {reason}")]
    Topology {
        /// The node where the walk stopped.
        node: String,
        /// Why.
        reason: String,
    },
    /// An export setting that cannot be used.
    #[error("invalid {field} = {value}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A file that could not be read or written, or whose content is not a NIR graph.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
