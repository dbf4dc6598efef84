"""Projection and visibility of a scene's points in its depth frames (METHOD.md §1).

Semantics (shared bit for bit by the C++ kernel, the CUDA kernel and
:func:`folk.ops.reference.visible_pixel_ids`):

* Each pose ``T_f`` (4×4 camera-to-world) is inverted once on the host in float64
  (``numpy.linalg.inv``) and rounded to float32: ``[R | t] = float32(T_f⁻¹[:3])``. Frames whose
  pose is not finite (ScanNet's ``-inf`` poses) or not invertible are skipped: nothing is
  visible there, every count is 0, and a :class:`NonFinitePoseWarning` is issued.
* A point ``p`` (float32) is transformed with float32 operations in this order, without fused
  multiply-adds: ``x = ((R00·X + R01·Y) + R02·Z) + t0`` (``y``, ``z`` likewise).
* It must lie in front of the camera: ``z > 0``.
* ``u = (fx·x)/z + cx``, ``v = (fy·y)/z + cy`` in float32 (fx, fy, cx, cy rounded to float32);
  the pixel is ``(⌊u⌋, ⌊v⌋)`` — floor, so pixel ``(i, j)`` covers ``[i, i+1) × [j, j+1)`` — and
  must satisfy ``0 ≤ ⌊u⌋ < W``, ``0 ≤ ⌊v⌋ < H``.
* The point is **visible** when the depth ``D = depth[⌊v⌋, ⌊u⌋]`` is valid (``D > 0``; 0, negative
  and NaN mean invalid) and ``|D − z| ≤ δ`` in float32 (δ rounded to float32).
* Pixels are named by flat row-major ids ``v·W + u`` (int32).

Outputs, never materialising anything of size frames × proposals × H × W:

* :func:`visibility_counts`: per (frame, proposal) the number of visible points and the number
  of distinct pixels those points hit, both ``(F, Q) int32``.
* :func:`visible_pixels`: for chosen (proposal, frame) pairs, the sparse 2-D mask of hit pixels
  as :class:`PixelLists` (ascending pixel ids per pair).

Proposal membership is compact, as :class:`ProposalMembership` (CSR): for proposal ``q`` the
sorted point indices ``indices[offsets[q]:offsets[q+1]]``; a point may be in several proposals.

Inputs are NumPy arrays or torch tensors. When the points, depths or membership are CUDA
tensors (or ``device="cuda"``) the CUDA kernel runs and torch tensors on that device come back;
otherwise the C++ kernel runs, and results come back as NumPy arrays (torch CPU tensors when the
points were a torch tensor). Asking for CUDA where it cannot run raises
:class:`~folk.errors.FolkExtensionError`.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from folk.data.reader import NonFinitePoseWarning
from folk.errors import FolkInputError
from folk.ops.extensions import cpu_extension, cuda_extension

#: Default depth tolerance δ in metres (OpenMask3D's value; Open-YOLO 3D uses 0.05).
DEFAULT_DELTA = 0.2

# Scratch budget of the CUDA kernel's per-block pixel bitmaps.
_CUDA_BITMAP_BUDGET_BYTES = 256 << 20


# ---- arrays of either kind ----------------------------------------------------------------


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_cuda(x: Any) -> bool:
    return _is_torch(x) and x.is_cuda


def _resolve_device(device: str | None, *arrays: Any) -> str:
    """``"cpu"`` or a CUDA device string; None picks CUDA when any array is a CUDA tensor."""
    if device is None:
        for a in arrays:
            if _is_cuda(a):
                return str(a.device)
        return "cpu"
    device = str(device)
    if device != "cpu" and not device.startswith("cuda"):
        raise FolkInputError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def _numpy(x: Any, name: str) -> np.ndarray:
    if _is_torch(x):
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise FolkInputError(f"{name} is not an array ({exc})") from None


def _torch(x: Any, device: str, dtype: Any | None = None):
    import torch

    t = x if _is_torch(x) else torch.from_numpy(np.ascontiguousarray(x))
    return t.to(device=device, dtype=dtype).contiguous()


def _check_dtype(a: Any, name: str, kinds: str, what: str) -> None:
    """``kinds``: NumPy kind letters, e.g. "f" floating, "iu" integer, "b" bool."""
    dtype = a.dtype
    if _is_torch(a):
        import torch

        kind = ("b" if dtype == torch.bool else "f" if dtype.is_floating_point
                else "c" if dtype.is_complex else "i")
    else:
        kind = dtype.kind
    if kind not in kinds:
        raise FolkInputError(f"{name} must be {what}, got dtype {dtype}")


def _check_shape(a: Any, name: str, shape: tuple, spec: str) -> None:
    """``shape`` entries: an int to match, or None for any size."""
    got = tuple(a.shape)
    if len(got) != len(shape) or any(
            s is not None and g != s for g, s in zip(got, shape, strict=True)):
        raise FolkInputError(f"{name} must have shape {spec}, got {got}")


def _all_finite(a: Any) -> bool:
    if _is_torch(a):
        import torch

        return bool(torch.isfinite(a).all())
    return bool(np.isfinite(a).all())


def _like_input(arrays: tuple, template: Any) -> tuple:
    """NumPy results as the caller's kind: torch (CPU) when ``template`` is a tensor."""
    if _is_torch(template):
        import torch

        return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)
    return arrays


# ---- compact proposal membership ----------------------------------------------------------


def _check_csr(offsets: Any, values: Any, name: str, values_name: str, rows: str) -> None:
    """Shape, dtype and offsets checks shared by the CSR containers below."""
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise FolkInputError(f"{name}.offsets must have shape ({rows},), got "
                             f"{tuple(offsets.shape)}")
    if values.ndim != 1:
        raise FolkInputError(f"{name}.{values_name} must be 1-D, got shape "
                             f"{tuple(values.shape)}")
    if str(offsets.dtype).split(".")[-1] != "int64":
        raise FolkInputError(f"{name}.offsets must be int64, got {offsets.dtype}")
    if str(values.dtype).split(".")[-1] != "int32":
        raise FolkInputError(f"{name}.{values_name} must be int32, got {values.dtype}")
    n = int(values.shape[0])
    if (int(offsets[0]) != 0 or int(offsets[-1]) != n
            or bool((offsets[1:] < offsets[:-1]).any())):
        raise FolkInputError(f"{name}.offsets must start at 0, never decrease and end at "
                             f"len({values_name}) = {n}")


@dataclass(frozen=True)
class ProposalMembership:
    """Which points belong to which proposal, in CSR form.

    Proposal ``q`` holds the point indices ``indices[offsets[q]:offsets[q+1]]``, strictly
    increasing. ``offsets`` is ``(Q+1,) int64`` with ``offsets[0] = 0``, ``indices`` is
    ``(nnz,) int32`` with values in ``[0, num_points)``. Arrays are NumPy or torch (any device).
    Memory is ``O(Q + nnz)`` instead of the dense ``N × Q`` mask.
    """

    offsets: Any
    indices: Any
    num_points: int

    @property
    def num_proposals(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def sizes(self):
        """Points per proposal, ``(Q,)``."""
        return self.offsets[1:] - self.offsets[:-1]

    @classmethod
    def from_masks(cls, masks: Any) -> ProposalMembership:
        """From dense ``(N, Q)`` masks (bool or 0/1), NumPy or torch; the result lives where
        the masks did."""
        if masks.ndim != 2:
            raise FolkInputError(f"masks must have shape (N, Q), got {tuple(masks.shape)}")
        n, q = (int(s) for s in masks.shape)
        if _is_torch(masks):
            import torch

            cols = masks.bool().t()  # (Q, N): nonzero walks proposals, then points ascending
            qi, pi = torch.nonzero(cols, as_tuple=True)
            counts = torch.bincount(qi, minlength=q)
            offsets = torch.zeros(q + 1, dtype=torch.int64, device=masks.device)
            torch.cumsum(counts, 0, out=offsets[1:])
            return cls(offsets, pi.to(torch.int32), n)
        cols = np.ascontiguousarray(np.asarray(masks).astype(bool, copy=False).T)
        qi, pi = np.nonzero(cols)
        offsets = np.zeros(q + 1, dtype=np.int64)
        np.cumsum(np.bincount(qi, minlength=q), out=offsets[1:])
        return cls(offsets, pi.astype(np.int32), n)

    @classmethod
    def from_lists(cls, lists: list, num_points: int) -> ProposalMembership:
        """From one array of point indices per proposal (sorted and deduplicated here)."""
        arrays = [np.unique(np.asarray(a, dtype=np.int64).reshape(-1)) for a in lists]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([a.size for a in arrays], out=offsets[1:])
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= num_points):
            raise FolkInputError(f"proposal point indices must lie in [0, {num_points})")
        return cls(offsets, flat.astype(np.int32), int(num_points))

    def to_masks(self) -> np.ndarray:
        """Dense ``(N, Q)`` bool masks (NumPy), for tests and small inputs."""
        offsets, indices = _numpy(self.offsets, "offsets"), _numpy(self.indices, "indices")
        masks = np.zeros((self.num_points, self.num_proposals), dtype=bool)
        cols = np.repeat(np.arange(self.num_proposals), np.diff(offsets))
        masks[indices, cols] = True
        return masks

    def validate(self, num_points: int, name: str = "membership") -> None:
        """Raise :class:`FolkInputError` unless this is well-formed CSR over ``num_points``."""
        if self.num_points != num_points:
            raise FolkInputError(f"{name} covers {self.num_points} points but there are "
                                 f"{num_points} points")
        _check_csr(self.offsets, self.indices, name, "indices", "Q+1")
        off, idx = self.offsets, self.indices
        nnz = int(idx.shape[0])
        if nnz == 0:
            return
        if int(idx.min()) < 0 or int(idx.max()) >= num_points:
            raise FolkInputError(f"{name}.indices must lie in [0, {num_points})")
        increasing = idx[1:] > idx[:-1]
        starts = off[1:-1]
        starts = starts[(starts > 0) & (starts < nnz)]
        increasing[starts - 1] = True  # a new proposal may start lower
        if not bool(increasing.all()):
            raise FolkInputError(f"{name}.indices must be strictly increasing within each "
                                 "proposal (sorted, no duplicates)")


def proposal_membership(masks: Any) -> ProposalMembership:
    """:class:`ProposalMembership` of dense ``(N, Q)`` proposal masks."""
    return ProposalMembership.from_masks(masks)


# ---- sparse 2-D masks ---------------------------------------------------------------------


@dataclass(frozen=True)
class PixelLists:
    """Many sparse masks over one ``height × width`` image, in CSR form.

    Mask ``k`` is the set of flat pixel ids (``y·width + x``, int32)
    ``pixels[offsets[k]:offsets[k+1]]``; folk's outputs list them ascending and without
    duplicates. ``offsets`` is ``(P+1,) int64``. Arrays are NumPy or torch (any device).
    """

    offsets: Any
    pixels: Any
    height: int
    width: int

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    def __getitem__(self, k: int):
        """The pixel ids of mask ``k``."""
        return self.pixels[int(self.offsets[k]):int(self.offsets[k + 1])]

    @property
    def sizes(self):
        return self.offsets[1:] - self.offsets[:-1]

    def to_dense(self, k: int) -> np.ndarray:
        """Mask ``k`` as an ``(height, width)`` bool image (NumPy)."""
        image = np.zeros(self.height * self.width, dtype=bool)
        image[_numpy(self[k], "pixels").astype(np.int64)] = True
        return image.reshape(self.height, self.width)

    @classmethod
    def from_dense(cls, masks: np.ndarray) -> PixelLists:
        """From ``(P, H, W)`` bool images."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 3:
            raise FolkInputError(f"masks must have shape (P, H, W), got {masks.shape}")
        p, h, w = masks.shape
        k, pix = np.nonzero(masks.reshape(p, h * w))
        offsets = np.zeros(p + 1, dtype=np.int64)
        np.cumsum(np.bincount(k, minlength=p), out=offsets[1:])
        return cls(offsets, pix.astype(np.int32), h, w)

    @classmethod
    def from_lists(cls, lists: list, height: int, width: int) -> PixelLists:
        """From one array of flat pixel ids per mask (kept as given)."""
        arrays = [np.asarray(a, dtype=np.int64).reshape(-1) for a in lists]
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum([a.size for a in arrays], out=offsets[1:])
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        return cls(offsets, flat.astype(np.int32), int(height), int(width))

    def validate(self, name: str = "masks") -> None:
        h, w = self.height, self.width
        if h < 1 or w < 1 or h * w >= 2**31:
            raise FolkInputError(f"{name}: image size {h}x{w} must be positive with H*W < 2^31")
        _check_csr(self.offsets, self.pixels, name, "pixels", "P+1")
        pix, n = self.pixels, int(self.pixels.shape[0])
        if n and (int(pix.min()) < 0 or int(pix.max()) >= h * w):
            raise FolkInputError(f"{name}.pixels must be flat ids in [0, {h}*{w})")


# ---- frames -------------------------------------------------------------------------------


def camera_from_world(poses: Any) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``[R | t]`` in float32 of camera-to-world ``poses (F, 4, 4)``.

    Returns ``(cam (F, 3, 4) float32, valid (F,) bool)``: each pose inverted in float64 by
    ``numpy.linalg.inv`` and rounded to float32; frames whose pose is not finite or not
    invertible are ``valid = False`` with a zero matrix.
    """
    poses = np.asarray(_numpy(poses, "poses"), dtype=np.float64)
    f = poses.shape[0]
    cam = np.zeros((f, 3, 4), dtype=np.float32)
    valid = np.isfinite(poses).all(axis=(1, 2))
    for i in np.flatnonzero(valid):
        try:
            inv = np.linalg.inv(poses[i])
        except np.linalg.LinAlgError:
            valid[i] = False
            continue
        if not np.isfinite(inv).all():
            valid[i] = False
            continue
        cam[i] = inv[:3, :4].astype(np.float32)
    return cam, valid


@dataclass(frozen=True)
class _Frames:
    cam: np.ndarray  # (F, 12) float32
    intr: np.ndarray  # (F, 4) float32
    valid: np.ndarray  # (F,) uint8
    num_frames: int
    height: int
    width: int


def _check_membership_type(membership: Any) -> None:
    if not isinstance(membership, ProposalMembership):
        raise FolkInputError("membership must be a ProposalMembership (see "
                             "ProposalMembership.from_masks), got " + type(membership).__name__)


def _check_inputs(points: Any, poses: Any, intrinsics: Any, depths: Any,
                  membership: ProposalMembership, delta: float) -> _Frames:
    _check_shape(points, "points", (None, 3), "(N, 3)")
    if str(points.dtype).split(".")[-1] != "float32":
        raise FolkInputError(f"points must be float32, got {points.dtype}")
    if not _all_finite(points):
        raise FolkInputError("points contain NaN or inf")
    _check_shape(depths, "depths", (None, None, None), "(F, H, W)")
    if str(depths.dtype).split(".")[-1] != "float32":
        raise FolkInputError(f"depths must be float32 metres, got {depths.dtype}")
    f, h, w = (int(s) for s in depths.shape)
    if h * w >= 2**31:
        raise FolkInputError(f"depths: images of {h}x{w} pixels are too large (H*W >= 2^31)")
    poses_np = _numpy(poses, "poses")
    _check_shape(poses_np, "poses", (f, 4, 4), f"(F, 4, 4) with F = {f} (the depths' F)")
    _check_dtype(poses_np, "poses", "f", "floating point")
    intr = _numpy(intrinsics, "intrinsics")
    _check_dtype(intr, "intrinsics", "fiu", "numeric (fx, fy, cx, cy)")
    if intr.shape == (4,):
        intr = np.broadcast_to(intr, (f, 4))
    _check_shape(intr, "intrinsics", (f, 4), f"(4,) or (F, 4) with F = {f}: fx, fy, cx, cy")
    if not np.isfinite(intr).all():
        raise FolkInputError("intrinsics contain NaN or inf")
    if not (np.isfinite(delta) and delta >= 0):
        raise FolkInputError(f"delta must be a finite non-negative depth tolerance, got {delta}")
    membership.validate(int(points.shape[0]))
    cam, valid = camera_from_world(poses_np)
    if not valid.all():
        warnings.warn(f"{int((~valid).sum())} of {f} frames have a non-finite or singular pose "
                      "and are skipped (nothing is visible in them)", NonFinitePoseWarning,
                      stacklevel=3)
    return _Frames(cam.reshape(f, 12), np.ascontiguousarray(intr, dtype=np.float32),
                   valid.astype(np.uint8), f, h, w)


def _cpu_inputs(points: Any, poses: Any, intrinsics: Any, depths: Any,
                membership: ProposalMembership, delta: float):
    """NumPy views of the inputs of a CPU kernel call, checked once: ``(points, depths,
    membership, frames)``."""
    pts, dep = _numpy(points, "points"), _numpy(depths, "depths")
    mb = ProposalMembership(_numpy(membership.offsets, "membership.offsets"),
                            _numpy(membership.indices, "membership.indices"),
                            membership.num_points)
    return pts, dep, mb, _check_inputs(pts, poses, intrinsics, dep, mb, delta)


def _check_pairs(pairs: Any, num_proposals: int, num_frames: int) -> np.ndarray:
    pairs = _numpy(pairs, "pairs")
    if pairs.ndim == 1 and pairs.shape[0] == 2:
        pairs = pairs.reshape(1, 2)
    _check_shape(pairs, "pairs", (None, 2), "(P, 2) rows of (proposal, frame)")
    _check_dtype(pairs, "pairs", "iu", "integer (proposal, frame) indices")
    pairs = np.ascontiguousarray(pairs, dtype=np.int64)
    if pairs.size and (pairs[:, 0].min() < 0 or pairs[:, 0].max() >= num_proposals):
        raise FolkInputError(f"pairs: proposal indices must lie in [0, {num_proposals})")
    if pairs.size and (pairs[:, 1].min() < 0 or pairs[:, 1].max() >= num_frames):
        raise FolkInputError(f"pairs: frame indices must lie in [0, {num_frames})")
    return pairs


# ---- the operations -----------------------------------------------------------------------


@dataclass(frozen=True)
class VisibilityCounts:
    """Output of :func:`visibility_counts`."""

    counts: Any  # (F, Q) int32 visible points of proposal q in frame f
    pixels: Any  # (F, Q) int32 distinct pixels those points hit
    valid_frames: np.ndarray  # (F,) bool, False where the pose was unusable (counts are 0)


def visibility_counts(points: Any, poses: Any, intrinsics: Any, depths: Any,
                      membership: ProposalMembership, *, delta: float = DEFAULT_DELTA,
                      device: str | None = None) -> VisibilityCounts:
    """Visible points and distinct hit pixels of every proposal in every frame.

    Args:
        points: ``(N, 3) float32`` world coordinates, finite.
        poses: ``(F, 4, 4)`` camera-to-world poses (float64 is fine); non-finite ones are
            skipped with a :class:`NonFinitePoseWarning`.
        intrinsics: ``(F, 4)`` or one shared ``(4,)``: ``fx, fy, cx, cy`` of the depth images.
        depths: ``(F, H, W) float32`` metres, ``0`` = invalid.
        membership: :class:`ProposalMembership` over the ``N`` points (``Q`` proposals).
        delta: depth tolerance δ in metres.
        device: ``None`` (CUDA when the points, depths or membership are CUDA tensors),
            ``"cpu"`` or ``"cuda[:N]"``.

    Returns:
        :class:`VisibilityCounts` with ``(F, Q) int32`` ``counts`` and ``pixels``. Memory
        beyond the inputs is ``O(threads · (N + H·W/32) + F·Q)`` on the CPU and
        ``O(blocks · H·W/32 + F·Q)`` on the GPU.
    """
    _check_membership_type(membership)
    device = _resolve_device(device, points, depths, membership.indices)
    if device != "cpu":
        ext = cuda_extension()  # clear error first when CUDA cannot run here
        return _counts_cuda(ext, points, poses, intrinsics, depths, membership, delta, device)
    ext = cpu_extension()
    pts, dep, mb, fr = _cpu_inputs(points, poses, intrinsics, depths, membership, delta)
    counts, pixels = ext.visibility_counts(
        np.ascontiguousarray(pts), fr.cam, fr.intr, fr.valid, np.ascontiguousarray(dep),
        np.ascontiguousarray(mb.offsets), np.ascontiguousarray(mb.indices), float(delta))
    counts, pixels = _like_input((counts, pixels), points)
    return VisibilityCounts(counts, pixels, fr.valid.astype(bool))


def visible_pixels(points: Any, poses: Any, intrinsics: Any, depths: Any,
                   membership: ProposalMembership, pairs: Any, *, delta: float = DEFAULT_DELTA,
                   device: str | None = None) -> PixelLists:
    """Sparse 2-D masks: the distinct pixels hit by the visible points of each requested
    (proposal, frame) pair.

    Args are those of :func:`visibility_counts`, plus ``pairs``: ``(P, 2)`` integer rows
    ``(proposal index, frame index)`` (frame index = position in ``poses``/``depths``), or one
    pair ``(q, f)``.

    Returns:
        :class:`PixelLists` over the ``H × W`` depth image, one mask per pair, pixel ids
        ascending; ``len(result[k]) == visibility_counts(...).pixels[f, q]``.
    """
    _check_membership_type(membership)
    device = _resolve_device(device, points, depths, membership.indices)
    if device != "cpu":
        ext = cuda_extension()
        return _pixels_cuda(ext, points, poses, intrinsics, depths, membership, pairs, delta,
                            device)
    ext = cpu_extension()
    pts, dep, mb, fr = _cpu_inputs(points, poses, intrinsics, depths, membership, delta)
    pr = _check_pairs(pairs, mb.num_proposals, fr.num_frames)
    offsets, pixels = ext.visibility_pair_pixels(
        np.ascontiguousarray(pts), fr.cam, fr.intr, fr.valid, np.ascontiguousarray(dep),
        np.ascontiguousarray(mb.offsets), np.ascontiguousarray(mb.indices), pr, float(delta))
    offsets, pixels = _like_input((offsets, pixels), points)
    return PixelLists(offsets, pixels, fr.height, fr.width)


# ---- CUDA ---------------------------------------------------------------------------------


def _cuda_setup(points, poses, intrinsics, depths, membership, delta, device):
    import torch

    dev = torch.device(device)
    if dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    pts = _torch(points, dev)
    dep = _torch(depths, dev)
    mb = ProposalMembership(_torch(membership.offsets, dev), _torch(membership.indices, dev),
                            membership.num_points)
    fr = _check_inputs(pts, poses, intrinsics, dep, mb, delta)
    cam = torch.from_numpy(fr.cam).to(dev)
    intr = torch.from_numpy(fr.intr).to(dev)
    valid = torch.from_numpy(fr.valid).to(dev)
    return torch, dev, pts, dep, mb, fr, cam, intr, valid


def _cuda_call_args(torch, dev, pts, dep, mb, fr, cam, intr, valid, pairs, num_pairs, delta):
    words = (fr.height * fr.width + 31) // 32
    sms = torch.cuda.get_device_properties(dev).multi_processor_count
    blocks = max(1, min(num_pairs, 8 * sms, _CUDA_BITMAP_BUDGET_BYTES // (4 * words)))
    bitmaps = torch.zeros(blocks * words, dtype=torch.int32, device=dev)
    args = {"points": pts.data_ptr(), "cam": cam.data_ptr(), "intr": intr.data_ptr(),
                "valid": valid.data_ptr(), "depths": dep.data_ptr(), "num_frames": fr.num_frames,
                "height": fr.height, "width": fr.width, "offsets": mb.offsets.data_ptr(),
                "indices": mb.indices.data_ptr(), "num_proposals": mb.num_proposals,
                "pairs": 0 if pairs is None else pairs.data_ptr(), "num_pairs": num_pairs,
                "delta": float(delta), "bitmaps": bitmaps.data_ptr(), "num_blocks": blocks,
                "stream": torch.cuda.current_stream(dev).cuda_stream}
    return args, bitmaps


def _counts_cuda(ext, points, poses, intrinsics, depths, membership, delta, device):
    torch, dev, pts, dep, mb, fr, cam, intr, valid = _cuda_setup(
        points, poses, intrinsics, depths, membership, delta, device)
    f, q = fr.num_frames, mb.num_proposals
    counts = torch.empty((f, q), dtype=torch.int32, device=dev)
    pixels = torch.empty((f, q), dtype=torch.int32, device=dev)
    with torch.cuda.device(dev):
        args, _scratch = _cuda_call_args(torch, dev, pts, dep, mb, fr, cam, intr, valid, None,
                                         f * q, delta)
        ext.visibility_counts(**args, out_counts=counts.data_ptr(),
                              out_pixels=pixels.data_ptr())
        torch.cuda.current_stream(dev).synchronize()  # scratch and inputs outlive the kernel
    return VisibilityCounts(counts, pixels, fr.valid.astype(bool))


def _pixels_cuda(ext, points, poses, intrinsics, depths, membership, pairs, delta, device):
    torch, dev, pts, dep, mb, fr, cam, intr, valid = _cuda_setup(
        points, poses, intrinsics, depths, membership, delta, device)
    pr = torch.from_numpy(_check_pairs(pairs, mb.num_proposals, fr.num_frames)).to(dev)
    p = int(pr.shape[0])
    counts = torch.empty(p, dtype=torch.int32, device=dev)
    distinct = torch.empty(p, dtype=torch.int32, device=dev)
    offsets = torch.zeros(p + 1, dtype=torch.int64, device=dev)
    with torch.cuda.device(dev):
        args, _scratch = _cuda_call_args(torch, dev, pts, dep, mb, fr, cam, intr, valid, pr,
                                         p, delta)
        ext.visibility_counts(**args, out_counts=counts.data_ptr(),
                              out_pixels=distinct.data_ptr())
        torch.cumsum(distinct.to(torch.int64), 0, out=offsets[1:])
        total = int(offsets[-1])
        pixels = torch.empty(total, dtype=torch.int32, device=dev)
        ext.visibility_pixels(**args, out_offsets=offsets.data_ptr(),
                              out_pixels=pixels.data_ptr())
        if total:
            # The kernel writes each pair's pixels in arrival order: sort within pairs.
            hw = fr.height * fr.width
            owner = torch.repeat_interleave(torch.arange(p, device=dev), distinct.to(torch.int64))
            keys = torch.sort(owner * hw + pixels.to(torch.int64)).values
            pixels = (keys - owner * hw).to(torch.int32)
        torch.cuda.current_stream(dev).synchronize()
    return PixelLists(offsets, pixels, fr.height, fr.width)
