"""The student as an ONNX graph, written node by node with ``onnx.helper`` (no tracing: the
graph is small, deterministic and the same on every machine).

Inputs (the deployment interface, docs/formats.md "Deployment folder")::

    features        (N, C)  float32 (float16 with precision "fp16")   point features
    point_index     (M,)    int64    the point of each membership entry
    proposal_index  (M,)    int64    the proposal of each entry (CSR order, ascending)
    proposal_size   (Q,)    float32  member count of each proposal (> 0)

Outputs::

    embeddings      (Q, D)  float32  f_q, unit rows
    probabilities   (Q, K)  float32  softmax_k(cos(f_q, t_k) / τ_l)
    labels          (Q,)    int64    argmax_k probabilities (first maximum on ties)

N, M and Q are dynamic; C, H (hidden), D and K are fixed by the weights. The computation is
:func:`folk.student.classify.embed_segments` + :func:`~folk.student.classify.class_probabilities`:

1. segment mean: the features of each proposal's points summed in float32
   (:mod:`folk.export.segment_sum`: ``scatter="blocked"``, what ``model.onnx`` holds, for ONNX
   Runtime; ``"elements"`` for TensorRT), divided by ``proposal_size``. Never a dense N × Q
   matrix.
2. VL-adapter: ``Gemm`` (``x Wᵀ + b``, torch's ``nn.Linear`` layout) → activation → ``Gemm``.
   ``gelu`` is torch's default, the exact ``0.5·x·(1 + erf(x/√2))`` (``Erf``), not the tanh
   approximation; ``relu`` / ``silu`` (``x·sigmoid(x)``) / ``tanh`` likewise match
   :data:`folk.student.model.ACTIVATIONS`.
3. L2 normalisation as ``torch.nn.functional.normalize``: ``x / max(‖x‖₂, 1e-12)``.
4. cosine with the text embeddings (constants, L2-normalised here, stored transposed
   ``(D, K)``), divided by τ_l, ``Softmax`` over the vocabulary, ``ArgMax`` of the
   probabilities (as NumPy's ``argmax`` in :func:`~folk.student.classify.classify_embeddings`).

Every op is in ONNX Runtime's CPU provider, and every op of the ``"elements"`` graph in
TensorRT 10's ONNX parser (onnx-tensorrt's operator matrix; see :mod:`folk.export.segment_sum`
for the scatters and the ``Scan`` of the ``"blocked"`` one). Opset 17: ``ReduceL2``
still takes ``axes`` as an attribute, and TensorRT 10 parses opsets 9 to 24.

Precision "fp16": the features input is float16 (half the bytes to read and to copy to a GPU;
ONNX Runtime's CPU provider computes float16 no faster than float32), and so are the adapter's
weights and its two ``Gemm`` + activation; the sums of the segment mean are accumulated in
float32 (a float16 sum over thousands of points would lose digits or overflow), and the
normalisation, the cosine with the text embeddings, the softmax and every output stay float32.
Only the adapter therefore computes in float16.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from folk.errors import FolkInputError
from folk.export.segment_sum import KINDS, NodeList, segment_sum

if TYPE_CHECKING:
    import onnx

    from folk.student.model import VLAdapter

#: The opset the graph declares (see the module docstring).
OPSET = 17
#: The IR version of opset 17 (ONNX 1.12), so that runtimes of that age read the file too.
IR_VERSION = 8
#: The ``eps`` of ``torch.nn.functional.normalize``.
NORMALIZE_EPS = 1e-12
PRECISIONS = ("fp32", "fp16")
#: The segment sums of :mod:`folk.export.segment_sum`: "blocked" (ONNX Runtime, model.onnx),
#: "elements" (TensorRT).
SCATTERS = KINDS
INPUT_NAMES = ("features", "point_index", "proposal_index", "proposal_size")
OUTPUT_NAMES = ("embeddings", "probabilities", "labels")
#: Activations of :data:`folk.student.model.ACTIVATIONS` the graph writes.
ACTIVATIONS = ("gelu", "relu", "silu", "tanh")


@dataclass(frozen=True)
class AdapterWeights:
    """A VL-adapter as plain arrays, torch's ``nn.Linear`` layout: ``w1 (H, C)``, ``b1 (H,)``,
    ``w2 (D, H)``, ``b2 (D,)``; ``activation`` as in :class:`folk.student.model.AdapterConfig`."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    activation: str

    def __post_init__(self) -> None:
        w1, b1, w2, b2 = (np.asarray(a, dtype=np.float32) for a in (self.w1, self.b1, self.w2,
                                                                     self.b2))
        if (w1.ndim != 2 or w2.ndim != 2 or b1.shape != (w1.shape[0],)
                or b2.shape != (w2.shape[0],) or w2.shape[1] != w1.shape[0]):
            raise FolkInputError(f"adapter weights do not chain: w1 {w1.shape}, b1 {b1.shape}, "
                                 f"w2 {w2.shape}, b2 {b2.shape}")
        if self.activation not in ACTIVATIONS:
            raise FolkInputError(f"activation {self.activation!r} cannot be exported; choose "
                                 f"from {list(ACTIVATIONS)}")
        for name, a in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)):
            if not np.isfinite(a).all():
                raise FolkInputError(f"adapter weight {name} holds NaN or inf")
            object.__setattr__(self, name, a)

    @property
    def dims(self) -> tuple[int, int, int]:
        """``(C, H, D)``: input, hidden and output widths."""
        return int(self.w1.shape[1]), int(self.w1.shape[0]), int(self.w2.shape[0])

    @classmethod
    def from_adapter(cls, adapter: VLAdapter) -> AdapterWeights:
        """The weights of a :class:`folk.student.model.VLAdapter` (copied to NumPy)."""
        state = {k: v.detach().cpu().float().numpy() for k, v in adapter.state_dict().items()}
        return cls(state["mlp.0.weight"], state["mlp.0.bias"], state["mlp.2.weight"],
                   state["mlp.2.bias"], adapter.config.activation)


def unit_rows(text_embeddings: np.ndarray) -> np.ndarray:
    """``(K, D) float32`` rows scaled to unit length (as ``class_probabilities`` does)."""
    t = np.asarray(text_embeddings, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] == 0:
        raise FolkInputError(f"text embeddings must be (K, D) with K >= 1, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise FolkInputError("text embeddings hold NaN or inf")
    norms = np.linalg.norm(t, axis=1, keepdims=True)
    return (t / np.maximum(norms, NORMALIZE_EPS)).astype(np.float32)


def student_graph(weights: AdapterWeights, text_embeddings: np.ndarray, tau_l: float, *,
                  precision: str = "fp32", scatter: str = "blocked",
                  metadata: Mapping[str, str] | None = None, producer_version: str = "",
                  ) -> onnx.ModelProto:
    """The student + its vocabulary as an ONNX model (see the module docstring); checked
    with ``onnx.checker`` (full check) before it is returned.

    ``text_embeddings`` ``(K, D)``; ``tau_l`` > 0; ``precision`` in :data:`PRECISIONS`;
    ``scatter`` in :data:`SCATTERS`; ``metadata``: ``metadata_props`` (string values);
    ``producer_version``: folk's version.
    """
    import onnx
    from onnx import TensorProto, helper

    if precision not in PRECISIONS:
        raise FolkInputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if scatter not in SCATTERS:
        raise FolkInputError(f"scatter must be one of {SCATTERS}, got {scatter!r}")
    if not (np.isfinite(tau_l) and tau_l > 0):
        raise FolkInputError(f"tau_l must be > 0, got {tau_l}")
    text = unit_rows(text_embeddings)
    c, _, d = weights.dims
    if text.shape[1] != d:
        raise FolkInputError(f"the adapter outputs {d}-dim embeddings but the text "
                             f"embeddings have {text.shape[1]} dims (another CLIP model?)")
    half = precision == "fp16"
    wtype = np.float16 if half else np.float32
    k = text.shape[0]
    g = NodeList()
    g.const("adapter_w1", weights.w1, wtype)
    g.const("adapter_b1", weights.b1, wtype)
    g.const("adapter_w2", weights.w2, wtype)
    g.const("adapter_b2", weights.b2, wtype)
    g.const("axis_1", [1], np.int64)
    g.const("normalize_eps", NORMALIZE_EPS, np.float32)
    g.const("text_embeddings_t", np.ascontiguousarray(text.T), np.float32)
    g.const("tau_l", tau_l, np.float32)

    # 1. segment mean (float32 sums)
    sums = segment_sum(g, scatter, c, half)
    g.op("Unsqueeze", ["proposal_size", "axis_1"], "size_column")
    pooled = g.op("Div", [sums, "size_column"], "pooled")
    # 2. adapter
    if half:
        pooled = g.op("Cast", [pooled], "pooled_fp16", to=TensorProto.FLOAT16)
    g.op("Gemm", [pooled, "adapter_w1", "adapter_b1"], "hidden_pre", transB=1)
    _activation(g, weights.activation, "hidden_pre", "hidden", wtype)
    out = g.op("Gemm", ["hidden", "adapter_w2", "adapter_b2"], "adapter_out", transB=1)
    if half:
        out = g.op("Cast", [out], "adapter_out_fp32", to=TensorProto.FLOAT)
    # 3. L2 normalisation
    g.op("ReduceL2", [out], "norm", axes=[1], keepdims=1)
    g.op("Max", ["norm", "normalize_eps"], "norm_clamped")
    g.op("Div", [out, "norm_clamped"], "embeddings")
    # 4. classification
    g.op("MatMul", ["embeddings", "text_embeddings_t"], "cosine")
    g.op("Div", ["cosine", "tau_l"], "logits")
    g.op("Softmax", ["logits"], "probabilities", axis=1)
    g.op("ArgMax", ["probabilities"], "labels", axis=1, keepdims=0)

    ftype = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("features", ftype, ["N", c]),
              helper.make_tensor_value_info("point_index", TensorProto.INT64, ["M"]),
              helper.make_tensor_value_info("proposal_index", TensorProto.INT64, ["M"]),
              helper.make_tensor_value_info("proposal_size", TensorProto.FLOAT, ["Q"])]
    outputs = [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT,
                                             ["Q", d]),
               helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["Q", k]),
               helper.make_tensor_value_info("labels", TensorProto.INT64, ["Q"])]
    graph = helper.make_graph(g.nodes, "folk_student", inputs, outputs,
                              initializer=g.initializers,
                              doc_string="folk student: segment mean -> VL-adapter -> cosine "
                                         "with the vocabulary / tau_l -> softmax")
    model = helper.make_model(graph, producer_name="folk-export",
                              producer_version=producer_version,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, {str(key): str(v) for key, v in metadata.items()})
    onnx.checker.check_model(model, full_check=True)
    return model


def _activation(g: NodeList, name: str, x: str, out: str, wtype) -> None:
    """Append activation ``name`` from tensor ``x`` to tensor ``out``."""
    if name == "relu":
        g.op("Relu", [x], out)
    elif name == "tanh":
        g.op("Tanh", [x], out)
    elif name == "silu":
        g.op("Mul", [x, g.op("Sigmoid", [x], "silu_sigmoid")], out)
    else:  # gelu, exact: 0.5 * x * (1 + erf(x / sqrt(2)))
        g.const("gelu_inv_sqrt2", np.sqrt(0.5), wtype)
        g.const("gelu_one", 1.0, wtype)
        g.const("gelu_half", 0.5, wtype)
        g.op("Mul", [x, "gelu_inv_sqrt2"], "gelu_scaled")
        g.op("Erf", ["gelu_scaled"], "gelu_erf")
        g.op("Add", ["gelu_erf", "gelu_one"], "gelu_one_plus")
        g.op("Mul", [x, "gelu_one_plus"], "gelu_x")
        g.op("Mul", ["gelu_x", "gelu_half"], out)


def membership_inputs(offsets: np.ndarray, indices: np.ndarray, features: np.ndarray,
                      ) -> dict[str, np.ndarray]:
    """The graph's inputs from CSR proposals (``offsets (Q+1,)``, ``indices (M,)``, as in
    :class:`folk.data.membership.ProposalMembership`) and ``features (N, C)`` (kept in their
    dtype: float32, or float16 for an fp16 graph)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    sizes = np.diff(offsets)
    return {"features": np.ascontiguousarray(features),
            "point_index": np.ascontiguousarray(indices, dtype=np.int64),
            "proposal_index": np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes),
            "proposal_size": sizes.astype(np.float32)}


__all__ = ["ACTIVATIONS", "INPUT_NAMES", "NORMALIZE_EPS", "OPSET", "OUTPUT_NAMES", "PRECISIONS",
           "SCATTERS", "AdapterWeights", "membership_inputs", "student_graph", "unit_rows"]
