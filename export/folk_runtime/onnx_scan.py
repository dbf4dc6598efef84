"""What nodes an ONNX file holds, read without the ``onnx`` package (not a runtime dependency):
a minimal protobuf walk over ``ModelProto.graph.node`` (the top-level graph; subgraphs of
If / Loop are not entered).

Used to find a ``ScatterND`` with a reduction (``add``, ``mul``, ``min``, ``max``), which
onnxruntime's CPU kernel computes wrongly with several intra-op threads when indices repeat
(its threads update the same rows without synchronisation; onnxruntime issues #18048, #23396).
A ``ScatterND`` without reduction (unique indices) is safe.
"""

from __future__ import annotations

from collections.abc import Iterator

# Field numbers of onnx.proto3.
_MODEL_GRAPH = 7
_GRAPH_NODE = 1
_NODE_OP_TYPE = 4
_NODE_ATTRIBUTE = 5
_ATTRIBUTE_NAME = 1
_ATTRIBUTE_S = 4


class MalformedModel(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise MalformedModel("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise MalformedModel("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` of each field of a message: ints for varints and fixed
    widths, bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            value, pos = int.from_bytes(data[pos:pos + width], "little"), pos + width
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        else:
            raise MalformedModel(f"unsupported wire type {wire}")
        if pos > len(data):
            raise MalformedModel("truncated field")
        yield number, value


def nodes(model: bytes) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(op_type, {attribute name: its string value, b"" when not a string})`` of each node of
    the model's top-level graph."""
    for number, graph in _fields(model):
        if number != _MODEL_GRAPH or not isinstance(graph, bytes):
            continue
        for field, node in _fields(graph):
            if field != _GRAPH_NODE or not isinstance(node, bytes):
                continue
            op_type, attributes = "", {}
            for key, value in _fields(node):
                if key == _NODE_OP_TYPE and isinstance(value, bytes):
                    op_type = value.decode("utf-8", "replace")
                elif key == _NODE_ATTRIBUTE and isinstance(value, bytes):
                    name, text = "", b""
                    for akey, avalue in _fields(value):
                        if akey == _ATTRIBUTE_NAME and isinstance(avalue, bytes):
                            name = avalue.decode("utf-8", "replace")
                        elif akey == _ATTRIBUTE_S and isinstance(avalue, bytes):
                            text = avalue
                    attributes[name] = text
            yield op_type, attributes


def has_reducing_scatter_nd(model: bytes) -> bool:
    """Whether the model's graph has a ``ScatterND`` whose ``reduction`` is not ``none``."""
    return any(op == "ScatterND" and attributes.get("reduction", b"none") != b"none"
               for op, attributes in nodes(model))
