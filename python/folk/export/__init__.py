"""Exporting the distilled student for deployment (``folk-export``): the student and its
vocabulary as an ONNX graph (:mod:`folk.export.graph`), a deployment folder that the torch-free
runtime ``folk_runtime`` loads (:mod:`folk.export.deploy`), and a TensorRT engine built from
it (:mod:`folk.export.tensorrt`).

Names are imported on first use, so that the command line starts without loading ONNX or
PyTorch.
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "AdapterWeights": "graph", "student_graph": "graph", "membership_inputs": "graph",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
