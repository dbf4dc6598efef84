"""Benchmarks of the superpoint over-segmentation (ScanNet's segmentator, folk.ops.superpoints).

Run: ``.venv/bin/python -m pytest benchmarks/bench_superpoints.py`` (pytest-benchmark). Input:
a bumpy heightfield mesh (a grid of triangles over random hills and steps, so that the graph
segmentation has real creases to cut along) of ScanNet size (≈ 150k vertices) for the C++
kernel, and a smaller one of the same kind for the C++ kernel against the NumPy reference
(the reference is a plain Python union-find, too slow for the full size). Measured values:
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from folk.ops import reference
from folk.ops.superpoints import mesh_superpoints, point_superpoints

FULL_SIDE = 388  # 388² ≈ 150k vertices, ≈ 300k faces
SMALL_SIDE = 60  # 3,600 vertices: the reference takes about a second


def heightfield_mesh(side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(vertices (side², 3) float32, faces (2·(side-1)², 3) int64)`` of a 1 cm grid over
    smooth hills with a few sharp steps."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64) * 0.01
    z = np.zeros_like(xs)
    for _ in range(12):
        cx, cy, r, h = rng.uniform(0, side * 0.01, 2).tolist() + [rng.uniform(0.1, 0.5),
                                                                  rng.uniform(-0.2, 0.2)]
        z += h * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))
    z += 0.05 * (xs > side * 0.005)  # a step across the middle
    vertices = np.stack([xs, ys, z], axis=-1).reshape(-1, 3).astype(np.float32)
    idx = np.arange(side * side).reshape(side, side)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)]).astype(np.int64)
    return vertices, faces


@pytest.fixture(scope="module")
def full_mesh():
    return heightfield_mesh(FULL_SIDE)


@pytest.fixture(scope="module")
def small_mesh():
    return heightfield_mesh(SMALL_SIDE, seed=1)


def _mesh_cpp(benchmark, mesh) -> None:
    vertices, faces = mesh
    ids = benchmark(mesh_superpoints, vertices, faces)
    benchmark.extra_info.update(vertices=int(vertices.shape[0]), faces=int(faces.shape[0]),
                                segments=int(ids.max()) + 1)


def test_superpoints_mesh_cpp(benchmark, full_mesh):
    _mesh_cpp(benchmark, full_mesh)


def test_superpoints_mesh_cpp_small(benchmark, small_mesh):
    _mesh_cpp(benchmark, small_mesh)


def test_superpoints_point_cloud(benchmark, full_mesh):
    vertices, _ = full_mesh
    ids = benchmark.pedantic(point_superpoints, args=(vertices,), rounds=2, iterations=1)
    benchmark.extra_info.update(points=int(vertices.shape[0]), segments=int(ids.max()) + 1)


def test_superpoints_mesh_reference_small(benchmark, small_mesh):
    vertices, faces = small_mesh
    ids = benchmark.pedantic(reference.mesh_superpoints, args=(vertices, faces, 0.01, 20),
                             rounds=1, iterations=1)
    np.testing.assert_array_equal(ids, mesh_superpoints(vertices, faces))
    benchmark.extra_info.update(vertices=int(vertices.shape[0]), faces=int(faces.shape[0]),
                                segments=int(ids.max()) + 1)
