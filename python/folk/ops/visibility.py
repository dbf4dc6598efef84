"""Projection and visibility of a scene's points in its depth frames (docs/method.md §1).

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

Proposal membership is compact, as :class:`~folk.data.membership.ProposalMembership` (CSR):
for proposal ``q`` the sorted point indices ``indices[offsets[q]:offsets[q+1]]``; a point may
be in several proposals, and an empty proposal is visible nowhere (all its counts are 0).

Inputs are NumPy arrays or torch tensors. When the points, depths or membership are CUDA
tensors (or ``device="cuda"``) the CUDA kernel runs and torch tensors on that device come back;
otherwise the C++ kernel runs, and results come back as NumPy arrays (torch CPU tensors when the
points were a torch tensor). Asking for CUDA where it cannot run raises
:class:`~folk.errors.FolkExtensionError`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from folk.data.membership import ProposalMembership, check_csr
from folk.errors import FolkInputError, NonFinitePoseWarning
from folk.ops.arrays import (
    all_finite,
    check_dtype,
    check_shape,
    cuda_device,
    dtype_name,
    like_input,
    resolve_device,
    to_numpy,
    to_torch,
)
from folk.ops.extensions import cpu_extension, cuda_extension

#: Default depth tolerance δ in metres (OpenMask3D's value; Open-YOLO 3D uses 0.05).
DEFAULT_DELTA = 0.2

# Scratch budget of the CUDA kernel's per-block pixel bitmaps.
_CUDA_BITMAP_BUDGET_BYTES = 256 << 20


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
        image[to_numpy(self[k], "pixels").astype(np.int64)] = True
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
        check_csr(self.offsets, self.pixels, name, "pixels", "P+1")
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
    poses = np.asarray(to_numpy(poses, "poses"), dtype=np.float64)
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
    check_shape(points, "points", (None, 3), "(N, 3)")
    if dtype_name(points) != "float32":
        raise FolkInputError(f"points must be float32, got {points.dtype}")
    if not all_finite(points):
        raise FolkInputError("points contain NaN or inf")
    check_shape(depths, "depths", (None, None, None), "(F, H, W)")
    if dtype_name(depths) != "float32":
        raise FolkInputError(f"depths must be float32 metres, got {depths.dtype}")
    f, h, w = (int(s) for s in depths.shape)
    if h * w >= 2**31:
        raise FolkInputError(f"depths: images of {h}x{w} pixels are too large (H*W >= 2^31)")
    poses_np = to_numpy(poses, "poses")
    check_shape(poses_np, "poses", (f, 4, 4), f"(F, 4, 4) with F = {f} (the depths' F)")
    check_dtype(poses_np, "poses", "f", "floating point")
    intr = to_numpy(intrinsics, "intrinsics")
    check_dtype(intr, "intrinsics", "fiu", "numeric (fx, fy, cx, cy)")
    if intr.shape == (4,):
        intr = np.broadcast_to(intr, (f, 4))
    check_shape(intr, "intrinsics", (f, 4), f"(4,) or (F, 4) with F = {f}: fx, fy, cx, cy")
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
    pts, dep = to_numpy(points, "points"), to_numpy(depths, "depths")
    mb = membership.numpy()
    return pts, dep, mb, _check_inputs(pts, poses, intrinsics, dep, mb, delta)


def _check_pairs(pairs: Any, num_proposals: int, num_frames: int) -> np.ndarray:
    pairs = to_numpy(pairs, "pairs")
    if pairs.ndim == 1 and pairs.shape[0] == 2:
        pairs = pairs.reshape(1, 2)
    check_shape(pairs, "pairs", (None, 2), "(P, 2) rows of (proposal, frame)")
    check_dtype(pairs, "pairs", "iu", "integer (proposal, frame) indices")
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
    device = resolve_device(device, points, depths, membership.indices)
    if device != "cpu":
        ext = cuda_extension()  # clear error first when CUDA cannot run here
        return _counts_cuda(ext, points, poses, intrinsics, depths, membership, delta, device)
    ext = cpu_extension()
    pts, dep, mb, fr = _cpu_inputs(points, poses, intrinsics, depths, membership, delta)
    counts, pixels = ext.visibility_counts(
        np.ascontiguousarray(pts), fr.cam, fr.intr, fr.valid, np.ascontiguousarray(dep),
        np.ascontiguousarray(mb.offsets), np.ascontiguousarray(mb.indices), float(delta))
    counts, pixels = like_input((counts, pixels), points)
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
    device = resolve_device(device, points, depths, membership.indices)
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
    offsets, pixels = like_input((offsets, pixels), points)
    return PixelLists(offsets, pixels, fr.height, fr.width)


# ---- CUDA ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CudaInputs:
    """The inputs of a folk._cuda visibility call: checked, on one device, and grouped as the
    bindings take them (cuda/visibility/visibility_bind.cpp)."""

    device: Any  # torch.device with its index
    points: Any  # (N, 3) float32
    frames: tuple  # (cam (F, 12) float32, intr (F, 4) float32, valid (F,) uint8, depths)
    membership: tuple  # (offsets (Q+1,) int64, indices (nnz,) int32)
    info: _Frames


def _cuda_inputs(points, poses, intrinsics, depths, membership, delta, device) -> _CudaInputs:
    import torch

    dev = cuda_device(device)
    pts, dep = to_torch(points, dev), to_torch(depths, dev)
    mb = membership.to(dev)
    fr = _check_inputs(pts, poses, intrinsics, dep, mb, delta)
    frames = (torch.from_numpy(fr.cam).to(dev), torch.from_numpy(fr.intr).to(dev),
              torch.from_numpy(fr.valid).to(dev), dep)
    return _CudaInputs(dev, pts, frames, (mb.offsets, mb.indices), fr)


def _bitmaps(inputs: _CudaInputs, num_pairs: int):
    """Zeroed ``(blocks, ⌈H·W/32⌉) int32`` pixel bitmaps, one per thread block: as many
    blocks as fill the GPU, within :data:`_CUDA_BITMAP_BUDGET_BYTES`."""
    import torch

    words = (inputs.info.height * inputs.info.width + 31) // 32
    sms = torch.cuda.get_device_properties(inputs.device).multi_processor_count
    blocks = max(1, min(num_pairs, 8 * sms, _CUDA_BITMAP_BUDGET_BYTES // (4 * max(words, 1))))
    return torch.zeros((blocks, words), dtype=torch.int32, device=inputs.device)


def _counts_cuda(ext, points, poses, intrinsics, depths, membership, delta, device):
    import torch

    inp = _cuda_inputs(points, poses, intrinsics, depths, membership, delta, device)
    f, q = inp.info.num_frames, membership.num_proposals
    counts = torch.empty((f, q), dtype=torch.int32, device=inp.device)
    pixels = torch.empty((f, q), dtype=torch.int32, device=inp.device)
    with torch.cuda.device(inp.device):
        stream = torch.cuda.current_stream(inp.device)
        ext.visibility_counts(inp.points, inp.frames, inp.membership, float(delta),
                              _bitmaps(inp, f * q), counts, pixels, stream.cuda_stream)
        stream.synchronize()  # scratch and inputs outlive the kernel
    return VisibilityCounts(counts, pixels, inp.info.valid.astype(bool))


def _pixels_cuda(ext, points, poses, intrinsics, depths, membership, pairs, delta, device):
    import torch

    inp = _cuda_inputs(points, poses, intrinsics, depths, membership, delta, device)
    dev, fr = inp.device, inp.info
    pr = torch.from_numpy(_check_pairs(pairs, membership.num_proposals, fr.num_frames)).to(dev)
    p = int(pr.shape[0])
    counts = torch.empty(p, dtype=torch.int32, device=dev)
    distinct = torch.empty(p, dtype=torch.int32, device=dev)
    offsets = torch.zeros(p + 1, dtype=torch.int64, device=dev)
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        bitmaps = _bitmaps(inp, p)
        ext.visibility_counts(inp.points, inp.frames, inp.membership, float(delta), bitmaps,
                              counts, distinct, stream.cuda_stream, pairs=pr)
        torch.cumsum(distinct.to(torch.int64), 0, out=offsets[1:])
        total = int(offsets[-1])
        pixels = torch.empty(total, dtype=torch.int32, device=dev)
        ext.visibility_pixels(inp.points, inp.frames, inp.membership, pr, float(delta),
                              bitmaps, offsets, pixels, stream.cuda_stream)
        if total:
            # The kernel writes each pair's pixels in arrival order: sort within pairs.
            hw = fr.height * fr.width
            owner = torch.repeat_interleave(torch.arange(p, device=dev), distinct.to(torch.int64))
            keys = torch.sort(owner * hw + pixels.to(torch.int64)).values
            pixels = (keys - owner * hw).to(torch.int32)
        stream.synchronize()
    return PixelLists(offsets, pixels, fr.height, fr.width)
