"""A TensorRT engine (``model.plan``) of the student graph, built with TensorRT's Python API.

``trt.Builder`` → a network parsed from the ONNX bytes by ``trt.OnnxParser`` → one optimization
profile over the dynamic sizes N (points), M (memberships) and Q (proposals), each with a
minimum / optimum / maximum (:class:`EngineProfile`) → ``build_serialized_network``.

Precision comes from the graph itself: an ``fp16`` deployment's graph already holds float16
weights, features and adapter (:mod:`folk.export.graph`), and the network is built *strongly
typed* where TensorRT offers it (10.12+, the only mode of TensorRT 11, which removed
``BuilderFlag.FP16``), so TensorRT keeps exactly those types; older TensorRT builds a weakly
typed network and gets ``BuilderFlag.FP16`` for an fp16 graph. TF32 is switched off for fp32
graphs, so that an fp32 engine computes in float32 as ONNX Runtime does.

The graph given to TensorRT sums the segment mean with ``ScatterElements`` (TensorRT's ONNX
parser has no ``ScatterND`` with ``reduction="add"``); TensorRT's plugin library, which
implements that reduction, is registered first (``trt.init_libnvinfer_plugins``).

Needs the ``tensorrt`` package and an NVIDIA GPU; without either, :func:`tensorrt_problem`
says which is missing and :func:`build_engine` raises :class:`folk.errors.FolkExtensionError`
with that message before any work is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from folk.errors import FolkExtensionError, FolkInputError

#: What to install (TensorRT's wheels on PyPI are per CUDA major version).
INSTALL_HINT = "pip install tensorrt-cu13, or tensorrt-cu12 for a CUDA 12 driver"


@dataclass(frozen=True)
class EngineProfile:
    """The sizes the engine accepts, ``(min, opt, max)`` each: ``points`` N, ``memberships``
    M (the number of (point, proposal) pairs) and ``proposals`` Q. TensorRT tunes its kernels
    for ``opt`` and rejects inputs outside ``[min, max]``; activation memory is sized for
    ``max`` (the gathered rows and their scatter indices: ≈ 12 bytes × memberships × C). The
    defaults cover ScanNet- and Replica-sized scenes (up to 1M points, 2M memberships, 2048
    proposals: ≈ 2.3 GB of GPU memory at C = 96); opt is ScanNet's typical scene (150k points,
    150 proposals, each point in about one)."""

    points: tuple[int, int, int] = (1, 150_000, 1_000_000)
    memberships: tuple[int, int, int] = (1, 150_000, 2_000_000)
    proposals: tuple[int, int, int] = (1, 150, 2048)

    def __post_init__(self) -> None:
        for name in ("points", "memberships", "proposals"):
            low, opt, high = (int(v) for v in getattr(self, name))
            if not 1 <= low <= opt <= high:
                raise FolkInputError(f"TensorRT profile {name}: need 1 <= min <= opt <= max, "
                                     f"got {getattr(self, name)}")

    def shapes(self, feature_dim: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        """``{input name: (min shape, opt shape, max shape)}`` of the graph's inputs."""
        return {"features": tuple((n, feature_dim) for n in self.points),
                "point_index": tuple((m,) for m in self.memberships),
                "proposal_index": tuple((m,) for m in self.memberships),
                "proposal_size": tuple((q,) for q in self.proposals)}


def tensorrt_problem() -> str | None:
    """Why TensorRT cannot build an engine here, or None when it can (the ``tensorrt``
    package imports and a CUDA device answers)."""
    try:
        import tensorrt as trt
    except ImportError:
        return (f"TensorRT needs an NVIDIA GPU and the `tensorrt` package ({INSTALL_HINT}); "
                "the package is not installed here")
    try:
        builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    except Exception as exc:  # noqa: BLE001 - TensorRT raises TypeError/RuntimeError by version
        builder, reason = None, f"{exc.__class__.__name__}: {exc}"
    else:
        reason = "no CUDA device answered"
    if builder is None:
        return f"TensorRT {trt.__version__} is installed but cannot start here ({reason}): " \
               "it needs an NVIDIA GPU and its driver"
    return None


def build_engine(onnx_bytes: bytes, feature_dim: int, *, fp16: bool,
                 profile: EngineProfile = EngineProfile()) -> bytes:
    """The serialized TensorRT engine of the ONNX model ``onnx_bytes`` (a graph of
    :func:`folk.export.graph.student_graph` with ``scatter="elements"``)."""
    problem = tensorrt_problem()
    if problem is not None:
        raise FolkExtensionError(problem)
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")
    builder = trt.Builder(logger)
    creation = trt.NetworkDefinitionCreationFlag
    strongly_typed = hasattr(creation, "STRONGLY_TYPED")
    flags = 1 << int(creation.STRONGLY_TYPED) if strongly_typed else 0
    if int(trt.__version__.split(".")[0]) < 10:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise FolkExtensionError(f"TensorRT {trt.__version__} could not parse the student "
                                 f"graph: {errors}")
    config = builder.create_builder_config()
    shapes = builder.create_optimization_profile()
    for name, (low, opt, high) in profile.shapes(feature_dim).items():
        shapes.set_shape(name, low, opt, high)
    config.add_optimization_profile(shapes)
    flag = trt.BuilderFlag
    if fp16 and not strongly_typed:
        config.set_flag(flag.FP16)
    if not fp16 and hasattr(flag, "TF32"):
        config.clear_flag(flag.TF32)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise FolkExtensionError(f"TensorRT {trt.__version__} failed to build the engine (see "
                                 "its log above)")
    return bytes(engine)


__all__ = ["INSTALL_HINT", "EngineProfile", "build_engine", "tensorrt_problem"]
