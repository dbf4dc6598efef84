"""Density-guided completion of sparse 2-D masks (docs/method.md §3), batched over many masks.

The sparse mask ``S`` of a proposal in a frame (the pixels hit by its visible points, see
:func:`folk.ops.visibility.visible_pixels`) is completed on its ``H × W`` image as follows.
Everything outside the image counts as 0; all arithmetic is integer, so the C++ kernel, the
CUDA kernel and :func:`folk.ops.reference.complete_mask` agree bit for bit.

1. Coarse mask ``M = S`` dilated by a ``(2r+1)²`` square (clipped to the image).
2. Density ``ρ = G_s ∗ M`` with the normalised ``s × s`` Gaussian in fixed point: 1-D integer
   weights ``g`` (:func:`gaussian_weights`, summing to 2¹²) and ``ρ·2²⁴ = Σ_ij g_i g_j
   M(y+i, x+j)`` — an exact int32 (the 2-D kernel is the outer product, so the separable sum is
   exact). ``M`` is 0 outside the image (zero padding, no renormalisation at the border).
3. Seeds: pixels of ``M`` with ``ρ > τ``, evaluated as ``ρ·2²⁴ > ⌊τ·2²⁴⌋``
   (:func:`density_threshold`).
4. For each seed ``p`` and each direction ``d`` of :data:`DIRECTIONS` (``(dx, dy)``: E, SE, S, SW,
   W, NW, N, NE; x right, y down): ``Δ_d = ρ(p + r·d) − ρ(p)`` (``ρ = 0`` outside the image).
   The top-``m`` directions with ``Δ_d > 0`` are taken (all positive ones if fewer; equal gains
   in :data:`DIRECTIONS` order), and the ``(2r+1)²`` square centred at ``p + r·d`` is filled
   (clipped to the image). All fills of an iteration go to a copy of ``M``: seeds and densities
   come from the mask as it was when the iteration began, so the result is order-independent.
5. ``ρ`` is recomputed on the grown mask and steps 3–4 repeat: ``T`` iterations in all.

Each mask is computed on its bounding box padded by ``r + 2·r·T`` pixels (the result can never
leave it), so a batch costs memory proportional to the masks' sizes, not to ``P × H × W``.
Masks are :class:`~folk.ops.visibility.PixelLists`; so are the results (ascending pixel ids).

Defaults: ``T = 2`` is the paper's; ``r = 2``, ``s = 7``, ``τ = 0.3``, ``m = 3`` are ours (the
paper does not give them). ``σ`` follows OpenCV's rule for a kernel of size ``s``:
``σ = 0.3·((s − 1)/2 − 1) + 0.8`` (``s = 7`` → ``σ = 1.4``).
"""

from __future__ import annotations

import math

import numpy as np

from folk.errors import FolkInputError
from folk.ops.arrays import cuda_device, like_input, resolve_device, to_numpy, to_torch
from folk.ops.extensions import cpu_extension, cuda_extension
from folk.ops.visibility import PixelLists

#: The 8 growth directions ``(dx, dy)`` in tie-breaking order: E, SE, S, SW, W, NW, N, NE.
DIRECTIONS: tuple[tuple[int, int], ...] = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1),
                                           (0, -1), (1, -1))
#: Sum of the 1-D fixed-point Gaussian weights; the 2-D density is scaled by its square.
KERNEL_SUM = 4096

DEFAULT_RADIUS = 2
DEFAULT_GAUSSIAN_SIZE = 7
DEFAULT_TAU = 0.3
DEFAULT_DIRECTIONS = 3
DEFAULT_ITERATIONS = 2

# Crop pixels per CUDA launch (10 bytes of buffers each).
_CUDA_CHUNK_PIXELS = 32 << 20


def gaussian_sigma(size: int) -> float:
    """σ of the ``size × size`` Gaussian (OpenCV's ``getGaussianKernel`` rule)."""
    return 0.3 * ((size - 1) * 0.5 - 1.0) + 0.8


def gaussian_weights(size: int) -> np.ndarray:
    """The 1-D Gaussian of odd ``size`` in fixed point: ``(size,) int32`` summing to
    :data:`KERNEL_SUM`, symmetric (rounded to nearest; the rounding residue goes to the centre).
    """
    if size < 1 or size % 2 == 0:
        raise FolkInputError(f"gaussian_size must be a positive odd number, got {size}")
    sigma = gaussian_sigma(size)
    x = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    w = np.rint(g / g.sum() * KERNEL_SUM).astype(np.int64)
    w[size // 2] += KERNEL_SUM - int(w.sum())
    if (w < 0).any():
        raise FolkInputError(f"gaussian_size {size} is too large for {KERNEL_SUM} fixed-point "
                             "weights")
    return w.astype(np.int32)


def density_threshold(tau: float) -> int:
    """The integer seed threshold: ``ρ > τ`` ⇔ ``ρ·KERNEL_SUM² > ⌊τ·KERNEL_SUM²⌋``."""
    return math.floor(float(tau) * KERNEL_SUM * KERNEL_SUM)


def _check_params(radius, gaussian_size, tau, directions, iterations) -> None:
    for name, value, low in (("radius", radius, 0), ("directions", directions, 0),
                             ("iterations", iterations, 0)):
        if int(value) != value or value < low:
            raise FolkInputError(f"{name} must be an integer >= {low}, got {value}")
    if radius > 1024:
        raise FolkInputError(f"radius {radius} is unreasonably large (> 1024)")
    if directions > 8:
        raise FolkInputError(f"directions must be at most 8, got {directions}")
    if not (math.isfinite(tau) and 0.0 <= tau <= 1.0):
        raise FolkInputError(f"tau must be a density in [0, 1], got {tau}")
    gaussian_weights(int(gaussian_size))  # validates the size


def complete_masks(masks: PixelLists, *, radius: int = DEFAULT_RADIUS,
                   gaussian_size: int = DEFAULT_GAUSSIAN_SIZE, tau: float = DEFAULT_TAU,
                   directions: int = DEFAULT_DIRECTIONS, iterations: int = DEFAULT_ITERATIONS,
                   device: str | None = None) -> PixelLists:
    """Completes every mask of ``masks`` (see the module docstring for the exact steps).

    Args:
        masks: sparse masks over one ``H × W`` image, as :class:`PixelLists` (pixel ids may come
            in any order and repeat). NumPy or torch; CUDA tensors run the CUDA kernel.
        radius: ``r``, dilation / fill squares ``(2r+1)²`` and step ``r·d``.
        gaussian_size: ``s``, odd.
        tau: density threshold ``τ`` in ``[0, 1]``.
        directions: ``m``, growth directions per seed (0…8).
        iterations: ``T``.
        device: ``None`` (CUDA when the masks are CUDA tensors), ``"cpu"`` or ``"cuda[:N]"``.

    Returns:
        The completed masks as :class:`PixelLists` (ascending ids), same image size; an empty
        mask stays empty.
    """
    if not isinstance(masks, PixelLists):
        raise FolkInputError("masks must be PixelLists (e.g. PixelLists.from_lists), got "
                             + type(masks).__name__)
    _check_params(radius, gaussian_size, tau, directions, iterations)
    device = resolve_device(device, masks.pixels)
    kernel = gaussian_weights(int(gaussian_size))
    threshold = density_threshold(tau)
    params = {"radius": int(radius), "threshold": threshold, "directions": int(directions),
              "iterations": int(iterations)}
    if device != "cpu":
        ext = cuda_extension()
        return _complete_cuda(ext, masks, kernel, params, device)
    ext = cpu_extension()
    m = PixelLists(to_numpy(masks.offsets, "masks.offsets"),
                   to_numpy(masks.pixels, "masks.pixels"), masks.height, masks.width)
    m.validate()
    offsets, pixels = ext.complete_masks(
        np.ascontiguousarray(m.offsets), np.ascontiguousarray(m.pixels), int(m.height),
        int(m.width), kernel=kernel, **params)
    offsets, pixels = like_input((offsets, pixels), masks.pixels)
    return PixelLists(offsets, pixels, m.height, m.width)


def _complete_cuda(ext, masks: PixelLists, kernel: np.ndarray, params: dict,
                   device: str) -> PixelLists:
    """The CUDA kernel on every mask's crop, in launches of at most
    :data:`_CUDA_CHUNK_PIXELS` crop pixels (a mask larger than that gets a launch of its own).
    The crops come from the kernel's own ``mask_crops``, the rule the C++ kernel uses too."""
    import torch

    dev = cuda_device(device)
    m = PixelLists(to_torch(masks.offsets, dev), to_torch(masks.pixels, dev), masks.height,
                   masks.width)
    m.validate()
    h, w, p = m.height, m.width, len(m)
    kernel_dev = torch.from_numpy(kernel).to(dev)
    crops = torch.empty((p, 4), dtype=torch.int32, device=dev)
    kernel_params = (params["radius"], kernel_dev, params["threshold"], params["directions"],
                     params["iterations"])
    out_sizes = torch.zeros(p, dtype=torch.int64, device=dev)
    pieces = []
    with torch.cuda.device(dev):
        stream = torch.cuda.current_stream(dev)
        ext.mask_crops((m.offsets, m.pixels), h, w, params["radius"], params["iterations"],
                       crops, stream.cuda_stream)
        crops_host = crops.cpu().numpy()
        areas = crops_host[:, 2].astype(np.int64) * crops_host[:, 3]
        start = 0
        while start < p:
            stop, total = start, 0
            while stop < p and (stop == start or total + areas[stop] <= _CUDA_CHUNK_PIXELS):
                total += int(areas[stop])
                stop += 1
            crop_off = np.zeros(stop - start + 1, dtype=np.int64)
            np.cumsum(areas[start:stop], out=crop_off[1:])
            crop_off_dev = torch.from_numpy(crop_off).to(dev)
            out = torch.empty(total, dtype=torch.uint8, device=dev)
            scratch = (torch.empty(total, dtype=torch.uint8, device=dev),
                       torch.empty(total, dtype=torch.int32, device=dev),
                       torch.empty(total, dtype=torch.int32, device=dev))
            ext.complete_masks((m.offsets[start:stop + 1], m.pixels), w, crops[start:stop],
                               crop_off_dev, kernel_params, out, scratch, stream.cuda_stream)
            # Crop-local row-major order is image row-major order: ids come out ascending.
            flat = torch.nonzero(out, as_tuple=True)[0]
            local_mask = torch.searchsorted(crop_off_dev, flat, right=True) - 1
            local = flat - crop_off_dev[local_mask]
            c = crops[start:stop].to(torch.int64)[local_mask]
            ids = (c[:, 1] + local // c[:, 2]) * w + c[:, 0] + local % c[:, 2]
            out_sizes[start:stop] = torch.bincount(local_mask, minlength=stop - start)
            pieces.append(ids.to(torch.int32))
            start = stop
        stream.synchronize()
    offsets = torch.zeros(p + 1, dtype=torch.int64, device=dev)
    torch.cumsum(out_sizes, 0, out=offsets[1:])
    pixels = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32, device=dev)
    return PixelLists(offsets, pixels, h, w)


__all__ = ["DIRECTIONS", "KERNEL_SUM", "complete_masks", "density_threshold",
           "gaussian_sigma", "gaussian_weights"]
