"""The segment sum of the student graph as ONNX nodes: ``sums[q] = Σ features[point_index[t]]``
over the membership entries ``t`` of proposal ``q`` — two formulations of the same sums.

``"blocked"`` (ONNX Runtime; what ``model.onnx`` holds). The entries, in CSR order, are laid
out in blocks of :data:`BLOCK` slots, proposal after proposal: proposal ``q`` gets
``ceil(size_q / BLOCK)`` blocks, the last one padded; the blocks are then padded to a whole
number of chunks of :data:`CHUNK` blocks. Everything about a block follows from
``proposal_size`` alone: its proposal (a 1 at each proposal's first block, cumulated; padding
blocks count as the last proposal's), its first entry (at most ``M - 1``) and how many of its
slots are filled; so slot ``j`` of a block holds entry ``first + min(j, max(filled - 1, 0))``
(padding repeats the block's last entry; a padding block, none filled, the last entry of
all). ``Gather`` reads ``point_index`` for every slot; then a ``Scan`` over the chunks gathers
the features of one chunk's slots, ``(CHUNK, BLOCK, C)``, and sums each block with one batched
``MatMul`` by its 0/1 weights ``(CHUNK, 1, BLOCK)`` (padding weighs 0, and repeats a member of
the same proposal, so a NaN feature never leaks into another proposal) while the gathered rows
are still in the CPU's cache: the ``M × C`` gathered rows are never written to memory and read
back (that round trip took a third of the time when all rows were gathered at once). An ``If``
skips the ``Scan`` when there is no chunk (Q = 0: onnxruntime's ``Scan`` rejects an empty
sequence).
``ScatterElements(reduction="add")`` adds up the few block sums of each proposal
(``blocks × C`` values, not ``M × C``). Memory is O(M + (M/BLOCK + Q)·C + CHUNK·BLOCK·C): never
an N × Q or M × Q matrix. ``proposal_index`` is declared (the deployment interface) but not
read: the layout comes from the sizes, the entries being in CSR order.

``"elements"`` (TensorRT): ``ScatterElements(zeros (Q, C), proposal_index expanded to (M, C),
rows (M, C), axis=0, reduction="add")`` on the gathered rows.

Why two: ONNX Runtime's CPU ``ScatterND`` with ``reduction="add"`` is not thread-safe when
indices repeat (as they do here: every entry of a proposal adds to the same row; measured with
onnxruntime 1.32: wrong sums in most runs with two threads, onnxruntime issue #18048), and its
``ScatterElements`` is correct but sequential (≈ 160 ms for ScanNet's 150k entries × 96
channels, against ≈ 7 ms for the blocked sum). Its contrib op
``com.microsoft.SparseToDenseMatMul`` (the membership as a CSR sparse tensor input, times the
features) gathers no rows either, but runs on one thread, sums less exactly (8× the blocked
sum's largest error against float64) and took ≈ 34 ms (onnxruntime 1.32, 2 cores). TensorRT's
ONNX parser (onnx-tensorrt's operator matrix, TensorRT 10) supports ``ScatterND`` only with
``reduction="none"`` and ``ScatterElements`` with its reductions (TensorRT's scatterElements
plugin, registered by ``trt.init_libnvinfer_plugins``), which runs in parallel on the GPU; the
``"elements"`` graph reads every input (TensorRT drops or rejects unused ones). Both require
the interface's promises: entries in CSR order (``proposal_index`` ascending) and
``proposal_size`` the member count of each proposal, > 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Slots per block of the blocked sum: padding costs ≈ Q·BLOCK/2 extra slots (rows just read,
#: but summed), the final ScatterElements ≈ (M/BLOCK + Q)·C values; 128 balances them at
#: ScanNet's sizes (256 and 512 measured no faster).
BLOCK = 128
#: Blocks per chunk of the ``Scan``: a chunk's rows, CHUNK × BLOCK × C floats (1.5 MiB at
#: C = 96), are summed while they are in the CPU's L2 cache (measured at ScanNet's sizes: 16
#: and 64 no faster).
CHUNK = 32
KINDS = ("blocked", "elements")


@dataclass
class NodeList:
    """ONNX nodes and initializers under construction (names must be unique in the graph)."""

    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)

    def const(self, name: str, value, dtype) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attributes) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def filled(self, shape: str, value, elem_type: int, output: str) -> str:
        """``ConstantOfShape(shape, value)``."""
        from onnx import helper

        return self.op("ConstantOfShape", [shape], output,
                       value=helper.make_tensor(f"{output}_value", elem_type, [1], [value]))


def segment_sum(g: NodeList, kind: str, feature_dim: int, half: bool) -> str:
    """Append the nodes of the ``kind`` segment sum of the graph inputs ``features``,
    ``point_index``, ``proposal_index``, ``proposal_size`` to ``g``; returns the name of the
    ``(Q, C)`` float32 sums (features summed in float32 also when they are float16)."""
    from onnx import TensorProto, helper

    g.const("seg_axis1", [1], np.int64)
    g.const("seg_feature_dim", [feature_dim], np.int64)
    g.op("Shape", ["proposal_size"], "seg_q")
    g.op("Concat", ["seg_q", "seg_feature_dim"], "seg_qc", axis=0)
    g.filled("seg_qc", 0.0, TensorProto.FLOAT, "seg_zeros")
    if kind == "elements":
        rows = g.op("Gather", ["features", "point_index"], "seg_rows", axis=0)
        if half:
            rows = g.op("Cast", [rows], "seg_rows_fp32", to=TensorProto.FLOAT)
        g.op("Unsqueeze", ["proposal_index", "seg_axis1"], "seg_proposal_column")
        g.op("Shape", [rows], "seg_rows_shape")
        g.op("Expand", ["seg_proposal_column", "seg_rows_shape"], "seg_scatter_index")
        return g.op("ScatterElements", ["seg_zeros", "seg_scatter_index", rows], "seg_sums",
                    axis=0, reduction="add")
    if kind != "blocked":
        raise ValueError(f"segment sum kind must be one of {KINDS}, got {kind!r}")
    g.const("seg_axis0", [0], np.int64)
    g.const("seg_zero", 0, np.int64)
    g.const("seg_one", 1, np.int64)
    b = g.const("seg_block_slots", BLOCK, np.int64)
    g.const("seg_block_minus_1", BLOCK - 1, np.int64)
    g.const("seg_chunk_blocks", [CHUNK], np.int64)
    g.const("seg_chunk_minus_1", [CHUNK - 1], np.int64)
    g.const("seg_chunk_points_shape", [-1, CHUNK, BLOCK], np.int64)
    g.const("seg_chunk_weights_shape", [-1, CHUNK, 1, BLOCK], np.int64)
    g.const("seg_sum_rows", [-1, feature_dim], np.int64)
    g.const("seg_positions", np.arange(BLOCK)[None, :], np.int64)
    # Per proposal: its blocks and entries.
    size = g.op("Cast", ["proposal_size"], "seg_size", to=TensorProto.INT64)
    g.op("Add", [size, "seg_block_minus_1"], "seg_size_up")
    blocks = g.op("Div", ["seg_size_up", b], "seg_blocks")  # ceil(size / BLOCK)
    g.op("CumSum", [blocks, "seg_zero"], "seg_block_end")
    block_start = g.op("Sub", ["seg_block_end", blocks], "seg_block_start")
    g.op("CumSum", [size, "seg_zero"], "seg_entry_end")
    g.op("Sub", ["seg_entry_end", size], "seg_entry_start")
    # The blocks, padded to whole chunks: ceil(blocks / CHUNK) * CHUNK of them.
    g.op("ReduceSum", [blocks], "seg_num_blocks", keepdims=1)
    g.op("Add", ["seg_num_blocks", "seg_chunk_minus_1"], "seg_num_blocks_up")
    g.op("Div", ["seg_num_blocks_up", "seg_chunk_blocks"], "seg_num_chunks")
    g.op("Mul", ["seg_num_chunks", "seg_chunk_blocks"], "seg_padded_blocks")
    # Per block: its proposal (a 1 at each proposal's first block, cumulated; the padding blocks
    # count as the last proposal's), first entry and number of entries (BLOCK, fewer in a
    # proposal's last block, none in a padding block).
    g.filled("seg_padded_blocks", 0, TensorProto.INT64, "seg_block_zeros")
    g.filled("seg_q", 1, TensorProto.INT64, "seg_q_ones")
    g.op("Unsqueeze", [block_start, "seg_axis1"], "seg_block_start_column")
    g.op("ScatterND", ["seg_block_zeros", "seg_block_start_column", "seg_q_ones"],
         "seg_block_marks")
    g.op("CumSum", ["seg_block_marks", "seg_zero"], "seg_block_count")
    block_proposal = g.op("Sub", ["seg_block_count", "seg_one"], "seg_block_proposal")
    g.op("Squeeze", ["seg_padded_blocks", "seg_axis0"], "seg_padded_blocks_scalar")
    g.op("Range", ["seg_zero", "seg_padded_blocks_scalar", "seg_one"], "seg_block_index")
    g.op("Gather", [block_start, block_proposal], "seg_block_first", axis=0)
    g.op("Sub", ["seg_block_index", "seg_block_first"], "seg_block_rank")
    g.op("Mul", ["seg_block_rank", b], "seg_block_skip")
    g.op("Gather", ["seg_entry_start", block_proposal], "seg_block_proposal_entry", axis=0)
    g.op("Add", ["seg_block_proposal_entry", "seg_block_skip"], "seg_block_first_entry")
    g.op("Shape", ["point_index"], "seg_entries")
    g.op("Sub", ["seg_entries", "seg_one"], "seg_last_entry")
    g.op("Min", ["seg_block_first_entry", "seg_last_entry"], "seg_block_entry")
    g.op("Gather", [size, block_proposal], "seg_block_size", axis=0)
    g.op("Sub", ["seg_block_size", "seg_block_skip"], "seg_block_rest")
    g.op("Min", ["seg_block_rest", b], "seg_block_fill")
    g.op("Sub", ["seg_block_fill", "seg_one"], "seg_block_fill_minus_1")
    g.op("Max", ["seg_block_fill_minus_1", "seg_zero"], "seg_block_last_position")
    # Per slot: its entry (padding slots repeat the block's last entry, padding blocks the last
    # entry of all, weighted 0), point, weight.
    g.op("Unsqueeze", ["seg_block_entry", "seg_axis1"], "seg_block_entry_column")
    g.op("Unsqueeze", ["seg_block_last_position", "seg_axis1"], "seg_block_last_column")
    g.op("Unsqueeze", ["seg_block_fill", "seg_axis1"], "seg_block_fill_column")
    g.op("Min", ["seg_positions", "seg_block_last_column"], "seg_slot_position")
    g.op("Add", ["seg_block_entry_column", "seg_slot_position"], "seg_slot_entry")
    g.op("Gather", ["point_index", "seg_slot_entry"], "seg_slot_point", axis=0)
    g.op("Less", ["seg_positions", "seg_block_fill_column"], "seg_valid")  # (B', BLOCK)
    g.op("Cast", ["seg_valid"], "seg_valid_float", to=TensorProto.FLOAT)
    # Chunk by chunk (Scan): the rows of CHUNK blocks, (CHUNK, BLOCK, C), and their block sums;
    # no chunk (Q = 0): no block sums (onnxruntime's Scan rejects an empty sequence).
    g.op("Reshape", ["seg_slot_point", "seg_chunk_points_shape"], "seg_chunk_points")
    g.op("Reshape", ["seg_valid_float", "seg_chunk_weights_shape"], "seg_chunk_weights")
    g.const("seg_no_block_sums", np.zeros((0, feature_dim)), np.float32)
    g.op("Equal", ["seg_num_chunks", "seg_zero"], "seg_no_chunk")
    chunks = NodeList()
    chunks.nodes.append(helper.make_node(
        "Scan", ["seg_chunk_points", "seg_chunk_weights"], ["seg_block_sums_4d"],
        num_scan_inputs=2, body=_chunk_body(feature_dim, half)))
    chunks.op("Reshape", ["seg_block_sums_4d", "seg_sum_rows"], "seg_chunk_block_sums")
    none = NodeList()
    none.op("Identity", ["seg_no_block_sums"], "seg_none_block_sums")
    g.op("If", ["seg_no_chunk"], "seg_block_sums",
         then_branch=_branch(none, "seg_none_block_sums", feature_dim),
         else_branch=_branch(chunks, "seg_chunk_block_sums", feature_dim))
    # The few blocks of each proposal added up.
    g.op("Unsqueeze", [block_proposal, "seg_axis1"], "seg_block_proposal_column")
    g.op("Shape", ["seg_block_sums"], "seg_block_sums_shape")
    g.op("Expand", ["seg_block_proposal_column", "seg_block_sums_shape"], "seg_scatter_index")
    return g.op("ScatterElements", ["seg_zeros", "seg_scatter_index", "seg_block_sums"],
                "seg_sums", axis=0, reduction="add")


def _branch(nodes: NodeList, output: str, feature_dim: int):
    """A branch of the ``If`` of the blocked sum: ``nodes`` → ``output``, ``(blocks, C)``."""
    from onnx import TensorProto, helper

    return helper.make_graph(nodes.nodes, f"{output}_branch", [], [
        helper.make_tensor_value_info(output, TensorProto.FLOAT, ["blocks", feature_dim])])


def _chunk_body(feature_dim: int, half: bool):
    """The ``Scan`` body of the blocked sum: ``points (CHUNK, BLOCK)`` and ``weights (CHUNK, 1,
    BLOCK)`` of one chunk → its block sums ``(CHUNK, 1, C)`` (float32); reads ``features`` from
    the outer graph."""
    from onnx import TensorProto, helper

    body = NodeList()
    rows = body.op("Gather", ["features", "seg_chunk_body_points"], "seg_chunk_body_rows", axis=0)
    if half:
        rows = body.op("Cast", [rows], "seg_chunk_body_rows_fp32", to=TensorProto.FLOAT)
    body.op("MatMul", ["seg_chunk_body_weights", rows], "seg_chunk_body_sums")
    return helper.make_graph(
        body.nodes, "seg_chunk",
        [helper.make_tensor_value_info("seg_chunk_body_points", TensorProto.INT64,
                                       [CHUNK, BLOCK]),
         helper.make_tensor_value_info("seg_chunk_body_weights", TensorProto.FLOAT,
                                       [CHUNK, 1, BLOCK])],
        [helper.make_tensor_value_info("seg_chunk_body_sums", TensorProto.FLOAT,
                                       [CHUNK, 1, feature_dim])])

__all__ = ["BLOCK", "KINDS", "NodeList", "segment_sum"]
