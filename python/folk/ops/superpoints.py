"""Superpoints: an over-segmentation of a scan into small, geometrically uniform segments.

:func:`mesh_superpoints` is ScanNet's mesh segmentator (``Segmentator`` in the ScanNet
repository, the published code behind the ``*_vh_clean_2.0.010000.segs.json``
over-segmentations of the release), written anew in C++ (``csrc/segmentator/``) and followed
step by step:

1. **Vertex normals.** Each face ``(i1, i2, i3)`` has the unit normal
   ``normalize(cross(p2 - p1, p3 - p1))``; a vertex normal is the running mean of the unit
   normals of its faces in face order, ``n ← lerp(n, face normal, 1 / (c + 1))`` after ``c``
   faces — not renormalised, and not area-weighted. A face of zero area has no normal and is
   left out of the mean (ScanNet's code would make it NaN).
2. **Graph.** Three edges per face, in face order: ``(i1, i2)``, ``(i1, i3)``, ``(i3, i2)`` (an
   edge shared by two faces is there twice). The weight of edge ``(a, b)`` is
   ``w = 1 − n_a·n_b``, squared when ``n_b · (p_b − p_a) / |p_b − p_a| > 0``, i.e. when the
   crease is convex (a convex edge of a given angle weighs less than a concave one).
3. **Felzenszwalb–Huttenlocher** (IJCV 2004): edges sorted by weight — stably, ties in edge
   order, so the result is defined (ScanNet's ``std::sort`` leaves ties unordered) — and the two
   components ``A``, ``B`` of an edge of weight ``w`` are joined when ``w ≤ T(A)`` and
   ``w ≤ T(B)``, where ``T = k_thresh`` for a single vertex and ``T = w + k_thresh / |C|`` for
   the component ``C`` a join of weight ``w`` made.
4. **Small segments.** One more pass over the sorted edges joins the two components of an edge
   when either has fewer than ``min_vertices`` vertices.

Every float step is float32 in ScanNet's order of operations (no fused multiply-adds), so the
weights are bit-identical to ScanNet's, and :func:`folk.ops.reference.mesh_superpoints`
recomputes them exactly. On a real ScanNet scan (scene0000_00) the partition is exactly that of
ScanNet's ``segmentator.cpp`` built with GCC on x86-64; the ``segs.json`` ScanNet released
differs from both along the borders of a few segments (``tests/test_superpoints.py`` measures
it).

:func:`point_superpoints` is the variant for a bare point cloud: the graph is the symmetric
k-nearest-neighbour graph (:func:`point_neighbours`, :func:`knn_graph`), and vertex normals are
the PCA normals of each point's neighbourhood (the point and its ``k`` nearest neighbours,
:func:`pca_normals`). Such normals have no orientation, so by default an edge weighs
``1 − |n_a·n_b|`` (no convexity term), raised to ``γ (|n_a·d| + |n_b·d|) / 2`` (``d`` the unit
edge direction, ``γ`` = ``off_plane``) when that is larger: an edge that leaves the tangent
planes of its ends — between two parallel surfaces a few centimetres apart, which a k-NN
graph joins and a mesh does not, or down a crease — weighs up to ``γ``. Given oriented
normals (:func:`orient_normals`, or a sensor's), the edge ``(a, b)``, ``a < b``, weighs exactly
as a mesh edge does in step 2 (:func:`oriented_weights`). Steps 3 and 4 are the same.

:func:`orient_normals` signs PCA normals consistently (Hoppe et al., "Surface reconstruction
from unorganized points", SIGGRAPH 1992): over a minimum spanning tree of the k-NN graph
weighted ``1 − |n_i·n_j|`` (plus 1e-4, so that no weight is zero), each normal takes the
sign that agrees with its tree parent's; then each connected component of the tree is
flipped as a whole when most of its normals face away from the centre of the cloud's
bounding box (an indoor scan is seen from inside the room).

**Segment ids** are ``0 … S−1`` in the order of each segment's smallest point index (the first
point is in segment 0). Compare partitions, not ids, with ScanNet's files, which name a segment
after one of its vertices.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from folk.errors import FolkInputError
from folk.ops.arrays import check_dtype, check_shape, to_numpy
from folk.ops.extensions import cpu_extension

#: ScanNet's defaults (``segmentator input.ply [kThresh=0.01] [segMinVerts=20]``).
DEFAULT_K_THRESH = 0.01
DEFAULT_MIN_VERTICES = 20
#: The point-cloud variant's defaults: neighbours per point, and the threshold for its
#: unsigned-normal weights (``1 − |n_a·n_b|``), chosen on a real ScanNet scan: about as many
#: superpoints as the mesh segmentator makes there (822 vs 667 on 81k points).
DEFAULT_NEIGHBOURS = 10
DEFAULT_POINT_K_THRESH = 0.05

_MAX_POINTS = 2**31 - 1


def _check_parameters(k_thresh: float, min_vertices: int) -> None:
    if isinstance(k_thresh, bool) or not isinstance(k_thresh, (int, float, np.number)) \
            or not math.isfinite(k_thresh) or k_thresh < 0:
        raise FolkInputError(f"k_thresh must be a finite number >= 0, got {k_thresh!r}")
    if isinstance(min_vertices, bool) or not isinstance(min_vertices, (int, np.integer)) \
            or min_vertices < 0:
        raise FolkInputError(f"min_vertices must be an integer >= 0, got {min_vertices!r}")


def _check_points(points: Any, name: str) -> np.ndarray:
    """``points`` as a C-contiguous ``(N, 3) float32`` array of finite values."""
    points = to_numpy(points, name)
    check_dtype(points, name, "fiu", "a real (float or integer) array")
    check_shape(points, name, (None, 3), "(N, 3)")
    if points.shape[0] > _MAX_POINTS:
        raise FolkInputError(f"{name} must have fewer than 2^31 rows, got {points.shape[0]}")
    points = np.ascontiguousarray(points, dtype=np.float32)
    if not np.isfinite(points).all():
        raise FolkInputError(f"{name} must be finite (as float32); found NaN or inf")
    return points


def check_faces(faces: Any, num_vertices: int) -> np.ndarray:
    """``faces`` as a C-contiguous ``(F, 3) int64`` array of vertex indices in
    ``[0, num_vertices)``; raises :class:`FolkInputError` naming ``faces`` otherwise."""
    faces = to_numpy(faces, "faces")
    check_dtype(faces, "faces", "iu", "an integer array of vertex indices")
    check_shape(faces, "faces", (None, 3), "(F, 3)")
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise FolkInputError(f"faces must hold vertex indices in [0, {num_vertices}), got "
                             f"values in [{faces.min()}, {faces.max()}]")
    return np.ascontiguousarray(faces, dtype=np.int64)


def mesh_superpoints(vertices: Any, faces: Any, k_thresh: float = DEFAULT_K_THRESH,
                     min_vertices: int = DEFAULT_MIN_VERTICES) -> np.ndarray:
    """``(N,) int64`` superpoint id of every vertex of a triangle mesh: ScanNet's segmentator
    (see the module docstring). ``vertices`` ``(N, 3)`` (float32 is what ScanNet reads),
    ``faces`` ``(F, 3)`` integer vertex indices; ``k_thresh`` (larger: larger segments) and
    ``min_vertices`` are ScanNet's ``kThresh`` and ``segMinVerts``. A vertex on no face is a
    segment of its own. NumPy arrays or torch tensors in, a NumPy array out."""
    _check_parameters(k_thresh, min_vertices)
    vertices = _check_points(vertices, "vertices")
    faces = check_faces(faces, vertices.shape[0])
    return cpu_extension().mesh_segments(vertices, faces, float(k_thresh), int(min_vertices))


def _check_neighbours(neighbours: Any, num_points: int) -> np.ndarray:
    """``neighbours`` as an ``(N, k) int64`` array of point indices, ``k ≥ 1``."""
    neighbours = to_numpy(neighbours, "neighbours")
    check_dtype(neighbours, "neighbours", "iu", "an integer array of point indices")
    check_shape(neighbours, "neighbours", (num_points, None), f"({num_points}, k)")
    if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= num_points):
        raise FolkInputError(f"neighbours must hold point indices in [0, {num_points})")
    return neighbours.astype(np.int64, copy=False)


def _check_normals(normals: Any, num_points: int) -> np.ndarray:
    """``normals`` as a C-contiguous ``(N, 3) float32`` array of finite values."""
    normals = _check_points(normals, "normals")
    if normals.shape[0] != num_points:
        raise FolkInputError(f"normals must have shape ({num_points}, 3), got {normals.shape}")
    return normals


def point_neighbours(points: Any, k: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
    """``(N, min(k, N − 1)) int64``: the indices of each point's ``k`` nearest neighbours
    (Euclidean, nearest first; the point itself excluded — with duplicate points it need not
    be the first found —, else the farthest of the ``k + 1`` found). One k-d tree query
    (scipy's ``cKDTree``, on all cores); :func:`knn_graph`, :func:`point_superpoints` and the
    point-cloud adjacency of :mod:`folk.proposals.superpoint_merging` can share its result."""
    from scipy.spatial import cKDTree

    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise FolkInputError(f"k must be an integer >= 1, got {k!r}")
    points = _check_points(points, "points")
    n = points.shape[0]
    k = min(int(k), n - 1)
    if k < 1:
        return np.zeros((n, 0), dtype=np.int64)
    _, found = cKDTree(points).query(points, k=k + 1, workers=-1)
    found = found.reshape(n, k + 1)
    own = found == np.arange(n)[:, None]
    own[~own.any(axis=1), k] = True
    own &= np.cumsum(own, axis=1) == 1
    return found[~own].reshape(n, k).astype(np.int64)


def pca_normals(points: Any, neighbours: Any) -> np.ndarray:
    """``(N, 3) float32`` unit normal of each point: the eigenvector of the smallest eigenvalue
    of the covariance (float64) of the point and its ``neighbours`` ``(N, k)`` (sign
    arbitrary), in closed form in C++ (``csrc/segmentator/point_normals.cpp``; a double
    smallest eigenvalue — collinear points — gives some unit vector across the line, coincident
    points ``(1, 0, 0)``). :func:`folk.ops.reference.pca_normals` is the LAPACK version."""
    points = _check_points(points, "points")
    neighbours = _check_neighbours(neighbours, points.shape[0])
    return cpu_extension().pca_normals(points, np.ascontiguousarray(neighbours))


def orient_normals(points: Any, normals: Any, neighbours: Any) -> np.ndarray:
    """``(N, 3) float32``: ``normals`` (unit, sign arbitrary, e.g. :func:`pca_normals`) signed
    consistently over the k-NN graph of ``neighbours`` ``(N, k)`` and towards the centre of
    the cloud's bounding box (see the module docstring)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import (
        breadth_first_order,
        connected_components,
        minimum_spanning_tree,
    )

    points = _check_points(points, "points")
    n = points.shape[0]
    normals = _check_normals(normals, n).astype(np.float64)
    neighbours = _check_neighbours(neighbours, n)
    k = neighbours.shape[1]
    i = np.repeat(np.arange(n, dtype=np.int64), k)
    j = neighbours.reshape(-1)
    # (normals[i] would copy each normal k times: 3x slower, the same values)
    cost = (1.0 - np.abs(np.einsum("nd,nkd->nk", normals, normals[neighbours])) + 1e-4).ravel()
    tree = minimum_spanning_tree(coo_matrix((cost, (i, j)), shape=(n, n)).tocsr()).tocoo()
    count, component = connected_components(tree, directed=False)
    # One breadth-first pass over the forest from a virtual root joined to each component's
    # first point gives every point its tree parent (a root is its own parent).
    first = np.unique(component, return_index=True)[1]
    rows = np.concatenate([tree.row, tree.col, np.full(count, n)])
    cols = np.concatenate([tree.col, tree.row, first])
    forest = coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    _, parent = breadth_first_order(forest, n, directed=True)
    parent = parent[:n]
    parent[parent == n] = first
    # The sign of a point is the product of the parent agreements on its path to the root:
    # pointer jumping, log2(depth) vectorised steps.
    sign = np.where(np.einsum("ij,ij->i", normals, normals[parent]) < 0, -1.0, 1.0)
    while True:
        sign *= sign[parent]  # a root's sign is +1, so repeating it changes nothing
        if (parent[parent] == parent).all():
            break
        parent = parent[parent]
    oriented = normals * sign[:, None]
    centre = (points.min(axis=0) + points.max(axis=0)) / 2.0
    facing = np.einsum("ij,ij->i", oriented, centre - points) > 0
    flip = np.bincount(component, np.where(facing, -1.0, 1.0), count) > 0
    oriented[flip[component]] *= -1.0
    return oriented.astype(np.float32)


def oriented_weights(points: Any, normals: Any, edges: Any) -> np.ndarray:
    """``(E,) float32`` weights of ``edges`` ``(E, 2)`` by the mesh segmentator's rule (step 2)
    with oriented ``normals`` ``(N, 3)``: ``w = 1 − n_a·n_b``, squared when
    ``n_b · normalize(p_b − p_a) > 0``, in float32 in ScanNet's order of operations."""
    points = _check_points(points, "points")
    normals = _check_normals(normals, points.shape[0])
    edges = _check_edges(edges, points.shape[0])
    pa, pb = points[edges[:, 0]], points[edges[:, 1]]
    na, nb = normals[edges[:, 0]], normals[edges[:, 1]]
    d = pb - pa
    with np.errstate(invalid="ignore", divide="ignore"):
        d /= np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])[:, None]
        convex = nb[:, 0] * d[:, 0] + nb[:, 1] * d[:, 1] + nb[:, 2] * d[:, 2]
    w = np.float32(1.0) - (na[:, 0] * nb[:, 0] + na[:, 1] * nb[:, 1] + na[:, 2] * nb[:, 2])
    return np.where(convex > 0, w * w, w).astype(np.float32)


def knn_graph(points: Any, k: int = DEFAULT_NEIGHBOURS, neighbours: Any = None,
              off_plane: float = 0.0, normals: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(edges (E, 2) int64, weights (E,) float32)``: the symmetric k-nearest-neighbour graph
    of ``points`` ``(N, 3)`` — ``{i, j}`` is an edge when either point is among the other's
    ``k`` nearest (:func:`point_neighbours`, or the first ``k`` columns of ``neighbours``
    when given) — with each edge once as ``(i, j)``, ``i < j``, in lexicographic order,
    weighted ``1 − |n_i·n_j|`` in float32 with the :func:`pca_normals` of the same
    neighbourhoods, or ``off_plane · (|n_i·d| + |n_j·d|) / 2`` when that is larger (``d`` the
    unit direction from ``i`` to ``j``; ``off_plane`` in [0, 1], 0: the plain weight).
    ``normals``: those PCA normals when the caller has them already (not recomputed)."""
    if not 0.0 <= off_plane <= 1.0:
        raise FolkInputError(f"off_plane must be in [0, 1], got {off_plane!r}")
    points = _check_points(points, "points")
    neighbours, edges = _knn_edges(points, k, neighbours)
    if edges.shape[0] == 0:
        return edges, np.zeros(0, dtype=np.float32)
    normals = pca_normals(points, neighbours) if normals is None \
        else _check_normals(normals, points.shape[0])
    na, nb = normals[edges[:, 0]], normals[edges[:, 1]]
    weights = np.float32(1.0) - np.abs(np.einsum("ec,ec->e", na, nb))
    if off_plane > 0.0:
        d = points[edges[:, 1]] - points[edges[:, 0]]
        d /= np.maximum(np.linalg.norm(d, axis=1), np.float32(1e-12))[:, None]
        off = np.abs(np.einsum("ec,ec->e", na, d)) + np.abs(np.einsum("ec,ec->e", nb, d))
        np.maximum(weights, np.float32(off_plane / 2) * off, out=weights)
    return edges, weights.astype(np.float32)


def _knn_edges(points: np.ndarray, k: int, neighbours: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(neighbours (N, k), edges (E, 2))``: the ``k`` nearest neighbours of each point (the
    first ``k`` columns of ``neighbours`` when given, else :func:`point_neighbours`) and the
    edges ``(i, j)``, ``i < j``, sorted, of their symmetric graph."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise FolkInputError(f"k must be an integer >= 2 (PCA needs 3 points), got {k!r}")
    neighbours = point_neighbours(points, k) if neighbours is None else \
        _check_neighbours(neighbours, points.shape[0])[:, :k]
    n = neighbours.shape[0]
    k = neighbours.shape[1]
    i = np.repeat(np.arange(n, dtype=np.int64), k)
    j = neighbours.reshape(-1)
    keys = np.sort(np.minimum(i, j) * n + np.maximum(i, j))
    first = np.ones(keys.size, dtype=bool)  # np.unique without its slower hashing
    first[1:] = keys[1:] != keys[:-1]
    keys = keys[first]
    return neighbours, np.stack([keys // n, keys % n], axis=1)


def _check_edges(edges: Any, num_vertices: int) -> np.ndarray:
    """``edges`` as a C-contiguous ``(E, 2) int64`` array of indices in ``[0, num_vertices)``."""
    edges = to_numpy(edges, "edges")
    check_dtype(edges, "edges", "iu", "an integer array of vertex indices")
    check_shape(edges, "edges", (None, 2), "(E, 2)")
    if edges.size and (edges.min() < 0 or edges.max() >= num_vertices):
        raise FolkInputError(f"edges must hold vertex indices in [0, {num_vertices})")
    return np.ascontiguousarray(edges, dtype=np.int64)


def graph_superpoints(num_vertices: int, edges: Any, weights: Any,
                      k_thresh: float = DEFAULT_K_THRESH,
                      min_vertices: int = DEFAULT_MIN_VERTICES) -> np.ndarray:
    """``(N,) int64`` segment ids of steps 3–4 (Felzenszwalb–Huttenlocher, then the
    small-segment merge) on any weighted graph: ``edges`` ``(E, 2)`` vertex indices in
    ``[0, num_vertices)``, ``weights`` ``(E,)`` (rounded to float32, not NaN), the edge order
    breaking ties."""
    _check_parameters(k_thresh, min_vertices)
    if isinstance(num_vertices, bool) or not isinstance(num_vertices, (int, np.integer)) \
            or not 0 <= num_vertices <= _MAX_POINTS:
        raise FolkInputError(f"num_vertices must be an integer in [0, 2^31), got "
                             f"{num_vertices!r}")
    edges = _check_edges(edges, num_vertices)
    weights = to_numpy(weights, "weights")
    check_dtype(weights, "weights", "fiu", "a real array")
    check_shape(weights, "weights", (edges.shape[0],), f"({edges.shape[0]},), one per edge")
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    if np.isnan(weights).any():
        raise FolkInputError("weights must not be NaN")
    return cpu_extension().graph_segments(int(num_vertices), edges, weights, float(k_thresh),
                                          int(min_vertices))


def point_superpoints(points: Any, k: int = DEFAULT_NEIGHBOURS,
                      k_thresh: float = DEFAULT_POINT_K_THRESH,
                      min_vertices: int = DEFAULT_MIN_VERTICES, *, neighbours: Any = None,
                      normals: Any = None, oriented: bool = True,
                      off_plane: float = 0.0) -> np.ndarray:
    """``(N,) int64`` superpoint id of every point of a point cloud without faces: the
    segmentator's steps 3–4 on the k-NN graph of ``k`` neighbours per point (the first ``k``
    columns of ``neighbours``, :func:`point_neighbours`, when given). Without ``normals``, or
    with ``oriented=False`` and the :func:`pca_normals` of those neighbourhoods, an edge
    weighs ``1 − |n_a·n_b|`` with unsigned PCA normals, at least ``off_plane`` times its mean
    offset from the two tangent planes (:func:`knn_graph`); with oriented ``normals`` ``(N, 3)``
    (e.g. :func:`orient_normals`), as a mesh edge does (:func:`oriented_weights`; ``off_plane``
    unused). Ids as :func:`mesh_superpoints`'."""
    _check_parameters(k_thresh, min_vertices)
    if not 0.0 <= off_plane <= 1.0:
        raise FolkInputError(f"off_plane must be in [0, 1], got {off_plane!r}")
    points = _check_points(points, "points")
    if normals is None or not oriented:
        edges, weights = knn_graph(points, k, neighbours, off_plane, normals)
    else:
        _, edges = _knn_edges(points, k, neighbours)
        weights = oriented_weights(points, normals, edges)
    return graph_superpoints(points.shape[0], edges, weights, k_thresh, min_vertices)


__all__ = ["DEFAULT_K_THRESH", "DEFAULT_MIN_VERTICES", "DEFAULT_NEIGHBOURS",
           "DEFAULT_POINT_K_THRESH", "check_faces", "graph_superpoints", "knn_graph",
           "mesh_superpoints", "orient_normals", "oriented_weights", "pca_normals",
           "point_neighbours", "point_superpoints"]
