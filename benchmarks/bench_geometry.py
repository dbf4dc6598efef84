#!/usr/bin/env python
"""Benchmarks of the teacher's geometry kernels on a ScanNet-sized input (pytest-benchmark).

Input: the synthetic ``scannet`` preset of :mod:`folk.synthetic` built in memory (≈150k points,
≈150 object proposals = its GT instances, 300 frames = ScanNet's stride 10 over 3000 raw
frames), depth rendered at 640×480 with Open3D's raycaster plus sensor-like noise. Built once
(≈40 s) and cached under ``$TMPDIR/folk-bench-geometry``.

Compared, per step:

* visibility counts over all frames × proposals: folk C++ (``folk._C``), the NumPy reference
  (``folk.ops.reference``), and an OpenMask3D-style implementation written from its published
  description (float64 per-frame projection ``K·T⁻¹·X``, integer pixel by truncation, a
  ``views × masks × H × W`` boolean array filled per (view, mask), ranking by pixel sums). That
  array needs ``F·Q·H·W`` bytes (≈13.6 GB here), so it runs on the first
  :data:`OPENMASK3D_FRAMES` frames and its time is extrapolated linearly to all frames.
* view selection: folk (vectorised NumPy) vs the reference (Python loops) vs OpenMask3D's
  top-k argsort (no rotation pruning).
* sparse masks of all selected (proposal, view) pairs (folk C++) and their density-guided
  completion: folk C++ vs the reference (full-image NumPy per mask). OpenMask3D has no
  completion step (it prompts SAM), so there is no third column there.

Peak extra memory of each call is recorded in ``extra_info["peak_extra_mb"]``: the growth of
the process's resident-set high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``
after ``malloc_trim``) over the resident size before the call; C++ and NumPy allocations both
count, pages never touched (e.g. the untouched parts of a calloc'ed array) do not.

    .venv/bin/python -m pytest benchmarks/bench_geometry.py --benchmark-columns=min,mean,rounds
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from folk.data.membership import ProposalMembership
from folk.ops import reference
from folk.ops.mask_completion import complete_masks
from folk.ops.views import select_views
from folk.ops.visibility import visibility_counts, visible_pixels

OPENMASK3D_FRAMES = 10
N_FRAMES = 300
DELTA = 0.2
K, THETA = 5, 15.0
#: The size of the scene the visibility kernel's speed target is stated for.
TARGET_POINTS, TARGET_FRAMES, TARGET_PROPOSALS = 234_000, 100, 150

#: The input's sizes, recorded in every benchmark's ``extra_info`` (benchmarks/report.py).
INPUT_INFO: dict[str, int] = {}


# ---- input --------------------------------------------------------------------------------


def _build_input(cache: Path) -> dict[str, np.ndarray]:
    from folk.synthetic import GENERATOR_VERSION, build_scene
    from folk.synthetic.render import Renderer

    path = cache / f"scannet-seed0-f{N_FRAMES}-v{GENERATOR_VERSION}.npz"
    if path.is_file():
        with np.load(path) as data:
            return {name: data[name] for name in data.files}
    built = build_scene(seed=0, preset="scannet", n_frames=N_FRAMES)
    cfg = built.cfg
    renderer = Renderer(built.geometry, cfg, 0)
    rng = np.random.default_rng(0)
    depths = np.zeros((N_FRAMES, cfg.height, cfg.width), dtype=np.float32)
    for start in range(0, N_FRAMES, 8):
        t = renderer.cast(built.poses[start:start + 8])["t"]
        for b in range(t.shape[0]):
            z = t[b].astype(np.float32)
            ok = np.isfinite(z) & (z < cfg.max_depth)
            z = np.where(ok, z, 0.0).astype(np.float32)
            sigma = np.float32(0.001) + np.float32(0.0015) * z * z
            z = np.where(ok, z + rng.standard_normal(z.shape, dtype=np.float32) * sigma, 0.0)
            z[rng.random(z.shape) < 0.005] = 0.0
            depths[start + b] = z.reshape(cfg.height, cfg.width)
    instance = built.points.instance
    ids = np.unique(instance)
    masks = instance[:, None] == ids[None, :]
    data = {"points": built.points.points.astype(np.float32), "poses": built.poses,
            "intrinsics": np.array([cfg.fx, cfg.fy, cfg.cx, cfg.cy]), "depths": depths,
            "masks": masks}
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **data)
    os.replace(tmp, path)
    return data


@pytest.fixture(scope="module")
def scene() -> dict:
    t = time.perf_counter()
    data = _build_input(Path(tempfile.gettempdir()) / "folk-bench-geometry")
    data["membership"] = ProposalMembership.from_masks(data["masks"])
    n, q = data["masks"].shape
    f, h, w = data["depths"].shape
    INPUT_INFO.update(points=n, frames=f, width=w, height=h, proposals=q,
                      memberships=int(data["masks"].sum()))
    print(f"\n[bench_geometry] input: {n} points, {f} frames {w}x{h}, {q} proposals, "
          f"{int(data['masks'].sum())} memberships (ready in {time.perf_counter() - t:.1f} s)")
    return data


@pytest.fixture(scope="module")
def counts(scene) -> np.ndarray:
    return visibility_counts(scene["points"], scene["poses"], scene["intrinsics"],
                             scene["depths"], scene["membership"], delta=DELTA).counts


@pytest.fixture(scope="module")
def selected_pairs(scene, counts) -> np.ndarray:
    views = select_views(counts, scene["poses"], k=K, theta_deg=THETA)
    q, k = np.nonzero(views >= 0)
    return np.stack([q, views[q, k]], axis=1)


@pytest.fixture(scope="module")
def sparse_masks(scene, selected_pairs):
    return visible_pixels(scene["points"], scene["poses"], scene["intrinsics"], scene["depths"],
                          scene["membership"], selected_pairs, delta=DELTA)


# ---- memory -------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Return freed heap memory to the OS, then reset VmHWM to the current RSS."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM to the current RSS
        return True
    except OSError:
        return False


def _record(benchmark, fn, *args, rounds: int, scale: float = 1.0, **kwargs):
    """Times ``fn`` and records the peak extra memory of its calls (MB); the memory
    bookkeeping runs in pytest-benchmark's untimed setup and teardown."""
    peaks: list[float] = []
    state: dict = {}

    def setup():
        state["hwm"] = _reset_peak()
        state["before"] = _status_kb("VmRSS")
        if not state["hwm"]:  # fallback: Python/NumPy allocations only
            import tracemalloc

            tracemalloc.start()

    def teardown(*_args, **_kwargs):
        if state["hwm"]:
            peaks.append((_status_kb("VmHWM") - state["before"]) / 1024)
        else:
            import tracemalloc

            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()

    result = benchmark.pedantic(lambda: fn(*args, **kwargs), setup=setup, teardown=teardown,
                                rounds=rounds, iterations=1)
    benchmark.extra_info.update(INPUT_INFO)
    benchmark.extra_info["peak_extra_mb"] = round(max(peaks), 1)
    if scale != 1.0:
        benchmark.extra_info["extrapolation_factor"] = scale
        benchmark.extra_info["extrapolated_mean_s"] = round(benchmark.stats.stats.mean * scale,
                                                            3)
    return result


# ---- OpenMask3D-style visibility (from its published description) --------------------------


def openmask3d_visibility(points, poses, intrinsics, depths, masks, delta, k):
    """Per-frame float64 projection, a views x masks x H x W boolean image filled per (view,
    mask), counts = pixel sums, top-k views by argsort (OpenMask3D's PointProjector)."""
    f, h, w = depths.shape
    n, q = masks.shape
    fx, fy, cx, cy = intrinsics
    intr = np.array([[fx, 0, cx, 0], [0, fy, cy, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    X = np.concatenate([points.astype(np.float64), np.ones((n, 1))], axis=1)
    projected = np.zeros((f, n, 2), dtype=int)
    visible_view = np.zeros((f, n), dtype=bool)
    for i in range(f):
        p = (intr @ np.linalg.inv(poses[i]) @ X.T).T
        nz = p[:, 2] != 0
        projected[i][nz] = np.column_stack([p[nz, 0] / p[nz, 2], p[nz, 1] / p[nz, 2]])
        inside = ((projected[i, :, 0] >= 0) & (projected[i, :, 1] >= 0)
                  & (projected[i, :, 0] < w) & (projected[i, :, 1] < h))
        pi = projected[i].T
        ok = np.abs(depths[i][pi[1][inside], pi[0][inside]] - p[inside, 2]) <= delta
        inside[inside] = ok
        visible_view[i] = inside
    image = np.zeros((f, q, h, w), dtype=bool)
    for i in range(f):
        for j in range(q):
            vis = masks[:, j] & visible_view[i]
            pts = projected[i][vis]
            if len(pts):
                image[i, j, pts[:, 1], pts[:, 0]] = True
    pixel_counts = image.sum(axis=(2, 3))
    top_k = np.argsort(-pixel_counts, axis=0)[:k, :].T
    return pixel_counts, top_k


# ---- visibility ---------------------------------------------------------------------------


def test_visibility_folk_cpp(benchmark, scene):
    out = _record(benchmark, visibility_counts, scene["points"], scene["poses"],
                  scene["intrinsics"], scene["depths"], scene["membership"], delta=DELTA,
                  rounds=3)
    from folk.ops.extensions import cpu_extension

    benchmark.extra_info["threads"] = cpu_extension().openmp_max_threads()
    assert out.counts.shape == (scene["depths"].shape[0], scene["masks"].shape[1])


def test_visibility_numpy_reference(benchmark, scene, counts):
    out = _record(benchmark, reference.visibility_counts, scene["points"], scene["poses"],
                  scene["intrinsics"], scene["depths"], scene["masks"], DELTA, rounds=1)
    np.testing.assert_array_equal(out[0], counts)


def test_visibility_openmask3d_style(benchmark, scene):
    sub = OPENMASK3D_FRAMES
    f, h, w = scene["depths"].shape
    q = scene["masks"].shape[1]
    _record(benchmark, openmask3d_visibility, scene["points"], scene["poses"][:sub],
            scene["intrinsics"], scene["depths"][:sub], scene["masks"], DELTA, K, rounds=1,
            scale=f / sub)
    n = scene["points"].shape[0]
    benchmark.extra_info["frames_run"] = sub
    # What the full run would allocate: the bool image array, projected points, visibility.
    benchmark.extra_info["full_run_arrays_gb"] = round((f * q * h * w + f * n * 2 * 8 + f * n)
                                                       / 1e9, 1)


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera-to-world pose (x right, y down, z forward) at ``eye`` looking at ``target``."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, np.cross(forward, right), forward], axis=1)
    pose[:3, 3] = eye
    return pose


@pytest.fixture(scope="module")
def target_size_scene() -> dict:
    """A random scene of the target's size: points in a 4 m cube, 150 proposals (nearest of 150
    random centres), 100 cameras around it at 640x480 with z-buffered depth plus noise."""
    rng = np.random.default_rng(1)
    points = rng.uniform(-2, 2, size=(TARGET_POINTS, 3)).astype(np.float32)
    centres = rng.uniform(-2, 2, size=(TARGET_PROPOSALS, 3))
    owner = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    masks = owner[:, None] == np.arange(TARGET_PROPOSALS)[None, :]
    h, w, (fx, fy, cx, cy) = 480, 640, (577.6, 578.7, 319.5, 239.5)
    angles = rng.uniform(0, 2 * np.pi, TARGET_FRAMES)
    poses = np.stack([_look_at(np.array([4.0 * np.cos(a), 4.0 * np.sin(a), 1.5]),
                               rng.uniform(-0.5, 0.5, 3)) for a in angles])
    depths = np.zeros((TARGET_FRAMES, h, w), np.float32)
    for i, pose in enumerate(poses):
        cam = (points - pose[:3, 3]) @ pose[:3, :3]
        z = cam[:, 2]
        u = np.floor(fx * cam[:, 0] / z + cx).astype(np.int64)
        v = np.floor(fy * cam[:, 1] / z + cy).astype(np.int64)
        ok = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        zbuf = np.full(h * w, np.inf, np.float32)
        np.minimum.at(zbuf, v[ok] * w + u[ok], z[ok])
        seen = np.isfinite(zbuf)
        zbuf[seen] += rng.normal(0, 0.005, int(seen.sum())).astype(np.float32)
        zbuf[~seen] = 0.0
        depths[i] = zbuf.reshape(h, w)
    return {"points": points, "poses": poses, "intrinsics": np.array([fx, fy, cx, cy]),
            "depths": depths, "membership": ProposalMembership.from_masks(masks)}


def test_visibility_folk_cpp_target_size(benchmark, target_size_scene):
    s = target_size_scene
    out = _record(benchmark, visibility_counts, s["points"], s["poses"], s["intrinsics"],
                  s["depths"], s["membership"], delta=DELTA, rounds=5)
    # after _record, which adds the ScanNet-sized input's sizes when that input was built
    benchmark.extra_info.update(points=TARGET_POINTS, frames=TARGET_FRAMES,
                                proposals=TARGET_PROPOSALS, width=640, height=480,
                                memberships=TARGET_POINTS,
                                visible_points=int(out.counts.sum()))


# ---- view selection -----------------------------------------------------------------------


def test_views_folk(benchmark, scene, counts):
    _record(benchmark, select_views, counts, scene["poses"], k=K, theta_deg=THETA, rounds=5)


def test_views_numpy_reference(benchmark, scene, counts):
    out = _record(benchmark, reference.select_views, counts, scene["poses"], K, THETA, rounds=1)
    np.testing.assert_array_equal(out, select_views(counts, scene["poses"], k=K,
                                                    theta_deg=THETA))


def test_views_openmask3d_style(benchmark, counts):
    _record(benchmark, lambda c: np.argsort(-c, axis=0)[:K, :].T, counts, rounds=5)


# ---- sparse masks and mask completion -----------------------------------------------------


def test_sparse_masks_folk_cpp(benchmark, scene, selected_pairs):
    benchmark.extra_info["pairs"] = len(selected_pairs)
    _record(benchmark, visible_pixels, scene["points"], scene["poses"], scene["intrinsics"],
            scene["depths"], scene["membership"], selected_pairs, delta=DELTA, rounds=3)


def test_mask_completion_folk_cpp(benchmark, sparse_masks):
    benchmark.extra_info["masks"] = len(sparse_masks)
    out = _record(benchmark, complete_masks, sparse_masks, rounds=3)
    benchmark.extra_info["mean_pixels_in"] = round(float(np.mean(sparse_masks.sizes)), 1)
    benchmark.extra_info["mean_pixels_out"] = round(float(np.mean(out.sizes)), 1)


def test_mask_completion_numpy_reference(benchmark, sparse_masks):
    def run_reference(masks):
        return [reference.complete_mask(masks.to_dense(i), 2, 7, 0.3, 3, 2)
                for i in range(len(masks))]

    benchmark.extra_info["masks"] = len(sparse_masks)
    out = _record(benchmark, run_reference, sparse_masks, rounds=1)
    fast = complete_masks(sparse_masks)
    for i in range(0, len(out), 37):
        np.testing.assert_array_equal(fast.to_dense(i), out[i])


if __name__ == "__main__":
    import sys

    sys.exit(pytest.main([__file__, "--benchmark-columns=min,mean,max,rounds", *sys.argv[1:]]))
