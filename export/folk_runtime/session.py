"""The two backends that run a deployment's graph: an ONNX Runtime session and a TensorRT
engine. Both take and return NumPy arrays by tensor name (:data:`INPUTS`, :data:`OUTPUTS`).

* :class:`OrtSession` runs ``model.onnx`` with onnxruntime on the execution providers given
  (default: CUDA then CPU when onnxruntime has CUDA, else CPU; TensorRT's execution provider
  only when asked for). It checks the model's inputs and outputs against the manifest, and the
  model's ``metadata_props`` against ``manifest.json`` (a folder mixing two exports is an error).
  A graph with a reducing ScatterND runs with one intra-op thread: onnxruntime's CPU ScatterND
  races on repeated indices with more (measured with onnxruntime 1.32: segment sums off by
  > 10); :mod:`folk_runtime.onnx_scan` finds such a node without the ``onnx`` package.
* :class:`TensorRTEngine` runs ``model.plan`` with TensorRT's Python API (TensorRT >= 10: the
  name-based tensor API, ``execute_async_v3``), with device buffers from the CUDA runtime
  (``libcudart`` through ctypes, so that no CUDA Python package is needed). **It has not run on
  a GPU yet** (no GPU was available when it was written); without TensorRT or a GPU it raises
  :class:`~folk_runtime.errors.BackendUnavailable` with one clear message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import json
import os
import sys
from pathlib import Path

import numpy as np

from folk_runtime.errors import BackendUnavailable, DeploymentError, RuntimeInputError
from folk_runtime.manifest import KEYS, Deployment
from folk_runtime.onnx_scan import MalformedModel, has_reducing_scatter_nd

#: The graph's inputs and outputs (the interface between folk-export and this runtime).
INPUTS = ("features", "point_index", "proposal_index", "proposal_size")
OUTPUTS = ("embeddings", "probabilities", "labels")
#: What each tensor's element type must be (features: per the manifest's precision).
_ORT_TYPES = {"point_index": "tensor(int64)", "proposal_index": "tensor(int64)",
              "proposal_size": "tensor(float)", "embeddings": "tensor(float)",
              "probabilities": "tensor(float)", "labels": "tensor(int64)"}
_FEATURE_TYPES = {"fp32": "tensor(float)", "fp16": "tensor(float16)"}
#: Manifest keys not compared with the model's metadata: the ONNX is written before the
#: TensorRT engine is (or is not) built, so it cannot know ``files.tensorrt``.
_UNCOMPARED_KEYS = ("files",)

TENSORRT_MISSING = ("TensorRT needs an NVIDIA GPU and the `tensorrt` package (pip install "
                    "tensorrt-cu13, or folk-runtime[tensorrt]); {what}")


def available_providers() -> list[str]:
    """onnxruntime's execution providers on this machine."""
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def default_providers() -> list[str]:
    """CUDA then CPU when this onnxruntime has CUDA, else CPU."""
    available = available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


SCATTER_ND_RACE = ("onnxruntime's CPU ScatterND with a reduction updates repeated indices from "
                   "several threads without synchronisation (wrong segment sums; onnxruntime "
                   "issues #18048, #23396)")


def _intra_op_threads(path: Path, threads: int | None) -> int | None:
    """onnxruntime's intra-op thread count for this model: 1 when the graph has a ScatterND
    with a reduction (e.g. the segment mean's ``reduction="add"`` into repeated proposal rows,
    which onnxruntime's CPU kernel races on with more threads), else ``threads`` (None:
    onnxruntime's default)."""
    if threads is not None and int(threads) < 1:
        raise RuntimeInputError(f"threads must be >= 1, got {threads}")
    try:
        racy = has_reducing_scatter_nd(path.read_bytes())
    except MalformedModel:
        racy = False  # onnxruntime reports the unreadable model next
    if not racy:
        return None if threads is None else int(threads)
    if threads is not None and int(threads) > 1:
        raise RuntimeInputError(f"threads={threads}: this graph's segment mean uses ScatterND "
                                f"with a reduction, and {SCATTER_ND_RACE}; it runs with one "
                                "intra-op thread")
    return 1


class OrtSession:
    """``model.onnx`` of ``deployment`` in an onnxruntime session (checked, see the module)."""

    def __init__(self, deployment: Deployment, providers: list | tuple | None = None,
                 threads: int | None = None):
        import onnxruntime

        path = deployment.onnx_path
        available = available_providers()
        providers = list(providers) if providers is not None else default_providers()
        names = [p[0] if isinstance(p, tuple) else p for p in providers]
        missing = [p for p in names if p not in available]
        if not providers or missing:
            raise BackendUnavailable(f"onnxruntime execution provider(s) {missing or '[]'} not "
                                     f"available here; this onnxruntime has {available}")
        self.threads = _intra_op_threads(path, threads)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no warnings on the user's terminal
        if self.threads is not None:
            options.intra_op_num_threads = self.threads
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception kinds
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise DeploymentError(f"onnxruntime cannot load this model ({exc.__class__.__name__}"
                                  f": {first[:300]})", path) from None
        self.providers = list(self.session.get_providers())
        self._check(deployment, path)

    def _check(self, deployment: Deployment, path: Path) -> None:
        args = {a.name: a for a in (*self.session.get_inputs(), *self.session.get_outputs())}
        inputs = [a.name for a in self.session.get_inputs()]
        outputs = [a.name for a in self.session.get_outputs()]
        if sorted(inputs) != sorted(INPUTS) or not set(OUTPUTS) <= set(outputs):
            raise DeploymentError(f"the graph has inputs {inputs} and outputs {outputs}; a folk "
                                  f"deployment has inputs {list(INPUTS)} and outputs "
                                  f"{list(OUTPUTS)}", path)
        expected = dict(_ORT_TYPES, features=_FEATURE_TYPES[deployment.precision])
        for name, kind in expected.items():
            if args[name].type != kind:
                raise DeploymentError(f"graph tensor {name!r} is {args[name].type}, expected "
                                      f"{kind} (manifest precision {deployment.precision!r})",
                                      path)
        widths = {"features": deployment.feature_dim, "embeddings": deployment.embedding_dim,
                  "probabilities": deployment.num_classes}
        for name, width in widths.items():
            shape = args[name].shape
            if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != width):
                raise DeploymentError(f"graph tensor {name!r} has shape {shape}; the manifest "
                                      f"says (., {width})", path)
        props = self.session.get_modelmeta().custom_metadata_map
        manifest = deployment.to_dict()
        for key in KEYS:
            if key in _UNCOMPARED_KEYS:
                continue
            if key not in props:
                raise DeploymentError(f"the model's metadata_props lack key {key!r} (every "
                                      "manifest key is stored there too; re-export)", path)
            try:
                value = json.loads(props[key])
            except ValueError:
                raise DeploymentError(f"metadata_props key {key!r} is not JSON", path) from None
            if value != manifest[key]:
                raise DeploymentError(f"metadata_props key {key!r} = {str(value)[:80]} differs "
                                      f"from manifest.json's {str(manifest[key])[:80]}: the "
                                      "folder mixes files of two exports", path)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the graph; ``feeds`` by input name, returns the outputs by name."""
        values = self.session.run(list(OUTPUTS), feeds)
        return dict(zip(OUTPUTS, values, strict=True))


# ---- TensorRT ------------------------------------------------------------------------------

def import_tensorrt():
    """The ``tensorrt`` module, or :class:`BackendUnavailable` saying what is missing."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailable(TENSORRT_MISSING.format(
            what="the `tensorrt` package is not installed here")) from None
    return tensorrt


class _CudaRuntime:
    """The few CUDA runtime calls the engine runner needs, through ctypes (``libcudart``)."""

    HOST_TO_DEVICE, DEVICE_TO_HOST = 1, 2

    def __init__(self):
        self.lib = self._load()
        count = ctypes.c_int(0)
        if self.lib.cudaGetDeviceCount(ctypes.byref(count)) != 0 or count.value < 1:
            raise BackendUnavailable(TENSORRT_MISSING.format(what="no NVIDIA GPU found here"))
        self.lib.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        self.lib.cudaFree.argtypes = [ctypes.c_void_p]
        self.lib.cudaMemcpyAsync.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                             ctypes.c_int, ctypes.c_void_p]
        self.lib.cudaStreamCreate.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        self.lib.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        self.lib.cudaStreamDestroy.argtypes = [ctypes.c_void_p]

    @staticmethod
    def _load():
        names = [ctypes.util.find_library("cudart"), "libcudart.so", "libcudart.so.13",
                 "libcudart.so.12"]
        for site in sys.path:  # the nvidia-cuda-runtime wheels TensorRT's wheels depend on
            names += sorted(glob.glob(os.path.join(site, "nvidia", "**", "libcudart.so*"),
                                      recursive=True))
        for name in names:
            if not name:
                continue
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
        raise BackendUnavailable(TENSORRT_MISSING.format(
            what="the CUDA runtime (libcudart) was not found here"))

    def check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"CUDA error {status} in {what}")

    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(ctypes.byref(ptr), max(int(nbytes), 1)), "cudaMalloc")
        return int(ptr.value)

    def free(self, ptr: int) -> None:
        self.lib.cudaFree(ctypes.c_void_p(ptr))

    def stream(self) -> int:
        handle = ctypes.c_void_p()
        self.check(self.lib.cudaStreamCreate(ctypes.byref(handle)), "cudaStreamCreate")
        return int(handle.value or 0)

    def copy(self, dst: int, src: int, nbytes: int, kind: int, stream: int) -> None:
        self.check(self.lib.cudaMemcpyAsync(ctypes.c_void_p(dst), ctypes.c_void_p(src),
                                            int(nbytes), kind, ctypes.c_void_p(stream)),
                   "cudaMemcpyAsync")

    def synchronize(self, stream: int) -> None:
        self.check(self.lib.cudaStreamSynchronize(ctypes.c_void_p(stream)),
                   "cudaStreamSynchronize")


class TensorRTEngine:
    """``model.plan`` (a serialized TensorRT engine with one optimization profile over N, M and
    Q) run with TensorRT's Python API: deserialize, set the input shapes of each call, copy the
    inputs to device buffers, ``execute_async_v3``, copy the outputs back.

    Not yet run on a GPU: written against TensorRT 10's documented Python API without a GPU to
    try it on. Raises :class:`BackendUnavailable` when TensorRT, the CUDA runtime or a GPU is
    missing, and :class:`DeploymentError` when the plan does not deserialize (e.g. built by
    another TensorRT version or for another GPU).
    """

    def __init__(self, deployment: Deployment):
        path = deployment.tensorrt_path
        if path is None:
            raise DeploymentError("the manifest names no TensorRT engine (files.tensorrt is "
                                  "null); export with folk-export --trt",
                                  deployment.folder / "manifest.json"
                                  if deployment.folder else None)
        trt = import_tensorrt()
        self.cuda = _CudaRuntime()
        self.trt = trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise DeploymentError(f"TensorRT {trt.__version__} cannot deserialize this engine "
                                  "(built by another TensorRT version or for another GPU? "
                                  "rebuild it with folk-export --trt on this machine)", path)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if sorted(names) != sorted(INPUTS + OUTPUTS):
            raise DeploymentError(f"the engine has tensors {names}, expected {list(INPUTS)} + "
                                  f"{list(OUTPUTS)}", path)
        self.context = self.engine.create_execution_context()
        self.stream = self.cuda.stream()
        self.path = path

    def _profile_limits(self, name: str) -> str:
        try:
            low, _, high = self.engine.get_tensor_profile_shape(name, 0)
            return f" (the engine's profile allows {tuple(low)} to {tuple(high)})"
        except Exception:  # noqa: BLE001 - only for the message
            return ""

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the engine; ``feeds`` by input name, returns the outputs by name."""
        trt, engine, context = self.trt, self.engine, self.context
        buffers: list[int] = []
        try:
            hosts = {}
            for name in INPUTS:
                dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
                host = np.ascontiguousarray(feeds[name], dtype=dtype)
                if not context.set_input_shape(name, tuple(host.shape)):
                    raise DeploymentError(f"input {name!r} of shape {host.shape} is outside "
                                          f"the engine's profile{self._profile_limits(name)}; "
                                          "rebuild with larger limits", self.path)
                ptr = self.cuda.malloc(host.nbytes)
                buffers.append(ptr)
                self.cuda.copy(ptr, host.ctypes.data, host.nbytes, _CudaRuntime.HOST_TO_DEVICE,
                               self.stream)
                context.set_tensor_address(name, ptr)
                hosts[name] = host
            outputs = {}
            for name in OUTPUTS:
                dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
                out = np.empty(tuple(context.get_tensor_shape(name)), dtype=dtype)
                ptr = self.cuda.malloc(out.nbytes)
                buffers.append(ptr)
                context.set_tensor_address(name, ptr)
                outputs[name] = (out, ptr)
            if not context.execute_async_v3(self.stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            for out, ptr in outputs.values():
                self.cuda.copy(out.ctypes.data, ptr, out.nbytes, _CudaRuntime.DEVICE_TO_HOST,
                               self.stream)
            self.cuda.synchronize(self.stream)
            return {name: out for name, (out, _) in outputs.items()}
        finally:
            for ptr in buffers:
                self.cuda.free(ptr)
