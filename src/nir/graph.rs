//! The NIR graph in memory: nodes by name and the edges between them, with the node types that
//! burn-fptt's layers map to.

use std::collections::BTreeMap;

use super::error::NirError;

/// A dense array of a NIR node: its shape (row-major) and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct NirArray {
    /// The shape, outermost first; `[]` for a scalar.
    pub shape: Vec<usize>,
    /// The values in row-major order; as many as the shape's product.
    pub data: Vec<f64>,
}

impl NirArray {
    /// A vector `[values.len()]`.
    pub fn vector(values: Vec<f64>) -> Self {
        Self {
            shape: vec![values.len()],
            data: values,
        }
    }

    /// A vector of `len` copies of `value`.
    pub fn filled(len: usize, value: f64) -> Self {
        Self::vector(vec![value; len])
    }

    /// A matrix `[rows, cols]` from its values in row-major order.
    ///
    /// # Panics
    ///
    /// When `values.len() != rows * cols`.
    pub fn matrix(rows: usize, cols: usize, values: Vec<f64>) -> Self {
        assert_eq!(
            values.len(),
            rows * cols,
            "NirArray::matrix: {rows} x {cols} needs {} values",
            rows * cols
        );
        Self {
            shape: vec![rows, cols],
            data: values,
        }
    }

    /// The number of values the shape holds.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the array holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `[row, col]` of a matrix.
    pub fn at(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.shape[1] + col]
    }
}

/// One node of a NIR graph: the subset of the NIR standard (version 1.0) that burn-fptt's
/// layers map to. Parameters are in NIR's continuous-time units (see [`super::TimeMapping`]).
#[derive(Debug, Clone, PartialEq)]
pub enum NirNode {
    /// Where data enters the graph, with its shape.
    Input {
        /// Shape of one time step of the input (`[features]`).
        shape: Vec<usize>,
    },
    /// Where data leaves the graph, with its shape.
    Output {
        /// Shape of one time step of the output.
        shape: Vec<usize>,
    },
    /// `y = W x + b`.
    Affine {
        /// `W`, `[out, in]`.
        weight: NirArray,
        /// `b`, `[out]`.
        bias: NirArray,
    },
    /// `y = W x`.
    Linear {
        /// `W`, `[out, in]`.
        weight: NirArray,
    },
    /// Leaky integrate-and-fire: `τ v' = (v_leak - v) + r I`, a spike when `v > v_threshold`,
    /// then `v = v_reset`.
    Lif {
        /// `τ`, `[n]`.
        tau: NirArray,
        /// `r`, `[n]`.
        r: NirArray,
        /// `v_leak`, `[n]`.
        v_leak: NirArray,
        /// `v_threshold`, `[n]`.
        v_threshold: NirArray,
        /// `v_reset`, `[n]`.
        v_reset: NirArray,
    },
    /// Current-based LIF: `τ_syn I' = -I + w_in S`, `τ_mem v' = (v_leak - v) + r I`, a spike
    /// when `v > v_threshold`, then `v = v_reset`.
    CubaLif {
        /// `τ_syn`, `[n]`.
        tau_syn: NirArray,
        /// `τ_mem`, `[n]`.
        tau_mem: NirArray,
        /// `r`, `[n]`.
        r: NirArray,
        /// `v_leak`, `[n]`.
        v_leak: NirArray,
        /// `v_threshold`, `[n]`.
        v_threshold: NirArray,
        /// `v_reset`, `[n]`.
        v_reset: NirArray,
        /// `w_in`, `[n]`.
        w_in: NirArray,
    },
    /// Leaky integrator: `τ v' = (v_leak - v) + r I`; its output is `v`.
    Li {
        /// `τ`, `[n]`.
        tau: NirArray,
        /// `r`, `[n]`.
        r: NirArray,
        /// `v_leak`, `[n]`.
        v_leak: NirArray,
    },
}

impl NirNode {
    /// The node's type as NIR files spell it (`"Affine"`, `"LIF"`, `"CubaLIF"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Input { .. } => "Input",
            Self::Output { .. } => "Output",
            Self::Affine { .. } => "Affine",
            Self::Linear { .. } => "Linear",
            Self::Lif { .. } => "LIF",
            Self::CubaLif { .. } => "CubaLIF",
            Self::Li { .. } => "LI",
        }
    }

    /// The node's named arrays, in the order NIR lists its fields.
    pub fn arrays(&self) -> Vec<(&'static str, &NirArray)> {
        match self {
            Self::Input { .. } | Self::Output { .. } => Vec::new(),
            Self::Affine { weight, bias } => vec![("weight", weight), ("bias", bias)],
            Self::Linear { weight } => vec![("weight", weight)],
            Self::Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            } => vec![
                ("tau", tau),
                ("r", r),
                ("v_leak", v_leak),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
            ],
            Self::CubaLif {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                v_threshold,
                v_reset,
                w_in,
            } => vec![
                ("tau_syn", tau_syn),
                ("tau_mem", tau_mem),
                ("r", r),
                ("v_leak", v_leak),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
                ("w_in", w_in),
            ],
            Self::Li { tau, r, v_leak } => vec![("tau", tau), ("r", r), ("v_leak", v_leak)],
        }
    }

    /// The width of the node's input and of its output (`[features]` each).
    ///
    /// # Errors
    ///
    /// A [`NirError::Shape`] naming `name` when a matrix is not 2-D, a shape is not 1-D, or the
    /// node's arrays disagree in length.
    pub fn widths(&self, name: &str) -> Result<(usize, usize), NirError> {
        let shape_error = |reason: String| NirError::Shape {
            node: name.to_string(),
            reason,
        };
        let vector_width = |shape: &[usize]| match shape {
            [n] => Ok(*n),
            other => Err(shape_error(format!("a shape of one axis, got {other:?}"))),
        };
        match self {
            Self::Input { shape } | Self::Output { shape } => {
                let n = vector_width(shape)?;
                Ok((n, n))
            }
            Self::Affine { weight, .. } | Self::Linear { weight } => {
                let [rows, cols] = weight.shape[..] else {
                    return Err(shape_error(format!(
                        "weight must be [out, in], got {:?}",
                        weight.shape
                    )));
                };
                if let Self::Affine { bias, .. } = self
                    && bias.shape != [rows]
                {
                    return Err(shape_error(format!(
                        "bias must be [{rows}] for a weight {:?}, got {:?}",
                        weight.shape, bias.shape
                    )));
                }
                Ok((cols, rows))
            }
            _ => {
                let arrays = self.arrays();
                let (first_name, first) = arrays[0];
                let n = vector_width(&first.shape).map_err(|_| {
                    shape_error(format!(
                        "{first_name} must be a vector, got {:?}",
                        first.shape
                    ))
                })?;
                for (field, array) in &arrays[1..] {
                    if array.shape != [n] {
                        return Err(shape_error(format!(
                            "{field} must be [{n}] like {first_name}, got {:?}",
                            array.shape
                        )));
                    }
                }
                Ok((n, n))
            }
        }
    }
}

/// A NIR graph: named nodes and directed edges between them. A node with several incoming
/// edges sums its inputs; an edge that closes a cycle carries the value of the previous step.
///
/// ```
/// use burn_fptt::nir::{NirArray, NirGraph, NirNode};
///
/// let mut graph = NirGraph::default();
/// graph.add_node("input", NirNode::Input { shape: vec![2] });
/// graph.add_node("fc", NirNode::Linear { weight: NirArray::matrix(1, 2, vec![0.5, -1.0]) });
/// graph.add_node("output", NirNode::Output { shape: vec![1] });
/// graph.add_edge("input", "fc");
/// graph.add_edge("fc", "output");
/// graph.validate().unwrap();
/// assert_eq!(graph.successors("input"), vec!["fc"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NirGraph {
    /// The nodes by name.
    pub nodes: BTreeMap<String, NirNode>,
    /// The edges, `(from, to)`, in the order they were added.
    pub edges: Vec<(String, String)>,
}

impl NirGraph {
    /// Adds (or replaces) the node `name`.
    pub fn add_node(&mut self, name: impl Into<String>, node: NirNode) {
        self.nodes.insert(name.into(), node);
    }

    /// Adds the edge `from -> to`.
    pub fn add_edge(&mut self, from: impl Into<String>, to: impl Into<String>) {
        self.edges.push((from.into(), to.into()));
    }

    /// The nodes that `name` feeds, in edge order.
    pub fn successors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(from, _)| from == name)
            .map(|(_, to)| to.as_str())
            .collect()
    }

    /// The nodes that feed `name`, in edge order.
    pub fn predecessors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, to)| to == name)
            .map(|(from, _)| from.as_str())
            .collect()
    }

    /// Checks that every edge joins two nodes of the graph whose widths agree, and that every
    /// node's arrays are consistent.
    ///
    /// # Errors
    ///
    /// A [`NirError`] naming the node or the edge at fault.
    pub fn validate(&self) -> Result<(), NirError> {
        for (name, node) in &self.nodes {
            node.widths(name)?;
            for (field, array) in node.arrays() {
                if array.data.len() != array.len() {
                    return Err(NirError::Shape {
                        node: name.clone(),
                        reason: format!(
                            "{field} has shape {:?} but {} values",
                            array.shape,
                            array.data.len()
                        ),
                    });
                }
                if let Some(bad) = array.data.iter().find(|v| !v.is_finite()) {
                    return Err(NirError::Parameter {
                        node: name.clone(),
                        reason: format!("{field} holds {bad}, not a finite number"),
                    });
                }
            }
        }
        for (from, to) in &self.edges {
            let width = |name: &str| {
                self.nodes
                    .get(name)
                    .ok_or_else(|| NirError::MissingNode {
                        node: name.to_string(),
                        edge: (from.clone(), to.clone()),
                    })
                    .and_then(|node| node.widths(name))
            };
            let (_, out) = width(from)?;
            let (into, _) = width(to)?;
            if out != into {
                return Err(NirError::Shape {
                    node: to.clone(),
                    reason: format!("takes {into} features but `{from}` gives {out}"),
                });
            }
        }
        Ok(())
    }
}
