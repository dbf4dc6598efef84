"""Plain NumPy reference implementations of the kernels in :mod:`folk.ops` (docs/method.md
§1–3 and §6) and of the superpoints (:mod:`folk.ops.superpoints`).

Slow and obviously correct: loops over frames and proposals, dense masks, full images. They
define what the kernels in :mod:`folk.ops` compute, and the tests compare every fast path
against them (integer outputs exactly). The projection uses float32 operations in the same order
as the kernels (no ``@``: a matrix product may use FMA or another summation order), so pixel
indices agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from folk.ops.mask_completion import DIRECTIONS, density_threshold, gaussian_weights

# ---- §1 projection and visibility ---------------------------------------------------------


def world_to_camera(pose: np.ndarray) -> np.ndarray | None:
    """float32 ``[R | t]`` (3×4) of the inverse of a camera-to-world pose, or None when the
    pose is not finite or not invertible (the frame is skipped)."""
    pose = np.asarray(pose, dtype=np.float64)
    if not np.isfinite(pose).all():
        return None
    try:
        inv = np.linalg.inv(pose)
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(inv).all():
        return None
    return inv[:3, :4].astype(np.float32)


def visible_pixel_ids(points: np.ndarray, pose: np.ndarray, intrinsics, depth: np.ndarray,
                      delta: float) -> np.ndarray:
    """For each point, the flat pixel id ``v·W + u`` where it is visible in this frame, or −1.

    ``intrinsics`` = ``(fx, fy, cx, cy)``; ``depth`` ``(H, W) float32`` metres, 0 = invalid.
    """
    points = np.asarray(points, dtype=np.float32)
    depth = np.asarray(depth, dtype=np.float32)
    h, w = depth.shape
    out = np.full(points.shape[0], -1, dtype=np.int64)
    m = world_to_camera(pose)
    if m is None:
        return out
    X, Y, Z = points[:, 0], points[:, 1], points[:, 2]
    fx, fy, cx, cy = (np.float32(v) for v in intrinsics)

    def row(r):
        return ((m[r, 0] * X + m[r, 1] * Y) + m[r, 2] * Z) + m[r, 3]

    x, y, z = row(0), row(1), row(2)
    front = z > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        u = np.floor((fx * x) / z + cx)
        v = np.floor((fy * y) / z + cy)
    inside = front & (u >= 0) & (u < np.float32(w)) & (v >= 0) & (v < np.float32(h))
    idx = np.flatnonzero(inside)
    ui = u[idx].astype(np.int64)
    vi = v[idx].astype(np.int64)
    d = depth[vi, ui]
    with np.errstate(invalid="ignore"):
        ok = (d > 0) & (np.abs(d - z[idx]) <= np.float32(delta))
    out[idx[ok]] = vi[ok] * w + ui[ok]
    return out


def visibility_counts(points, poses, intrinsics, depths, masks, delta: float):
    """``(counts, pixels)``, both ``(F, Q) int32``: visible points of each proposal (columns of
    the dense ``(N, Q)`` bool ``masks``) in each frame, and distinct pixels they hit.
    ``intrinsics``: ``(4,)`` shared or ``(F, 4)``."""
    depths = np.asarray(depths, dtype=np.float32)
    masks = np.asarray(masks, dtype=bool)
    f, q = depths.shape[0], masks.shape[1]
    intrinsics = np.broadcast_to(np.asarray(intrinsics, dtype=np.float64), (f, 4))
    counts = np.zeros((f, q), dtype=np.int32)
    pixels = np.zeros((f, q), dtype=np.int32)
    for i in range(f):
        pix = visible_pixel_ids(points, poses[i], intrinsics[i], depths[i], delta)
        for j in range(q):
            hit = pix[masks[:, j] & (pix >= 0)]
            counts[i, j] = hit.size
            pixels[i, j] = np.unique(hit).size
    return counts, pixels


def visible_pixels(points, pose, intrinsics, depth, mask, delta: float) -> np.ndarray:
    """Sorted distinct pixel ids hit by the visible points of one proposal (``mask (N,)`` bool)
    in one frame."""
    pix = visible_pixel_ids(points, pose, intrinsics, depth, delta)
    return np.unique(pix[np.asarray(mask, dtype=bool) & (pix >= 0)]).astype(np.int32)


# ---- §2 multi-view selection --------------------------------------------------------------


def rotation_angle(ra: np.ndarray, rb: np.ndarray) -> float:
    """Geodesic angle (radians) ``arccos(clamp((trace(raᵀ rb) − 1)/2, −1, 1))``."""
    ra = np.asarray(ra, dtype=np.float64)
    rb = np.asarray(rb, dtype=np.float64)
    trace = float((ra * rb).sum())
    return math.acos(min(1.0, max(-1.0, (trace - 1.0) / 2.0)))


def select_views(counts, poses, k: int, theta_deg: float, min_visible: int = 1,
                 refill: bool = False) -> np.ndarray:
    """``(Q, k) int64`` kept frame indices per proposal, −1 padded (see folk.ops.views)."""
    counts = np.asarray(counts)
    poses = np.asarray(poses, dtype=np.float64)
    f, q = counts.shape
    theta = math.radians(theta_deg)
    out = np.full((q, k), -1, dtype=np.int64)
    for j in range(q):
        candidates = [i for i in range(f)
                      if counts[i, j] >= min_visible and np.isfinite(poses[i, :3, :3]).all()]
        candidates.sort(key=lambda i: (-int(counts[i, j]), i))
        if not refill:
            candidates = candidates[:k]
        kept: list[int] = []
        for i in candidates:
            if len(kept) == k:
                break
            if all(rotation_angle(poses[i, :3, :3], poses[o, :3, :3]) >= theta for o in kept):
                kept.append(i)
        out[j, :len(kept)] = kept
    return out


# ---- §3 density-guided mask completion ----------------------------------------------------


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = image[y + dy, x + dx]``, 0 outside the image."""
    h, w = image.shape
    out = np.zeros_like(image)
    ys, ye = max(0, -dy), min(h, h - dy)
    xs, xe = max(0, -dx), min(w, w - dx)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = image[ys + dy:ye + dy, xs + dx:xe + dx]
    return out


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` dilated by a ``(2r+1)²`` square, clipped to the image."""
    out = np.zeros_like(mask, dtype=bool)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out |= _shift(mask.astype(bool), dy, dx)
    return out


def density_fixed(mask: np.ndarray, gaussian_size: int) -> np.ndarray:
    """``ρ · KERNEL_SUM²`` as int64: the Gaussian-weighted sum of the mask, zero outside.

    Computed separably, which is exact in integers because the 2-D weights are ``g_i·g_j``
    (:func:`density_fixed_direct` is the same sum written out)."""
    g = gaussian_weights(gaussian_size).astype(np.int64)
    half = gaussian_size // 2
    m = mask.astype(np.int64)
    rows = sum(g[j + half] * _shift(m, 0, j) for j in range(-half, half + 1))
    return sum(g[i + half] * _shift(rows, i, 0) for i in range(-half, half + 1))


def density_fixed_direct(mask: np.ndarray, gaussian_size: int) -> np.ndarray:
    """:func:`density_fixed` as the direct 2-D sum ``Σ_ij g_i g_j M(y+i, x+j)``."""
    g = gaussian_weights(gaussian_size).astype(np.int64)
    half = gaussian_size // 2
    m = mask.astype(np.int64)
    return sum(g[i + half] * g[j + half] * _shift(m, i, j)
               for i in range(-half, half + 1) for j in range(-half, half + 1))


def complete_mask(sparse: np.ndarray, radius: int, gaussian_size: int, tau: float,
                  directions: int, iterations: int) -> np.ndarray:
    """Density-guided completion of one ``(H, W)`` bool mask on the full image
    (see folk.ops.mask_completion for the steps)."""
    threshold = density_threshold(tau)
    r = radius
    mask = dilate(np.asarray(sparse, dtype=bool), r)
    h, w = mask.shape
    for _ in range(iterations):
        rho = density_fixed(mask, gaussian_size)
        ys, xs = np.nonzero(mask & (rho > threshold))
        gains = np.empty((ys.size, len(DIRECTIONS)), dtype=np.int64)
        for d, (dx, dy) in enumerate(DIRECTIONS):
            qy, qx = ys + r * dy, xs + r * dx
            inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
            target = np.zeros(ys.size, dtype=np.int64)
            target[inside] = rho[qy[inside], qx[inside]]
            gains[:, d] = target - rho[ys, xs]
        # Top-m positive gains per seed; equal gains in DIRECTIONS order (stable sort).
        order = np.argsort(-gains, axis=1, kind="stable")[:, :directions]
        centres = np.zeros((h, w), dtype=bool)
        for c in range(order.shape[1]):
            d = order[:, c]
            pos = gains[np.arange(ys.size), d] > 0
            dx = np.array([DIRECTIONS[i][0] for i in d[pos]], dtype=np.int64)
            dy = np.array([DIRECTIONS[i][1] for i in d[pos]], dtype=np.int64)
            centres[ys[pos] + r * dy, xs[pos] + r * dx] = True
        mask = mask | dilate(centres, r)  # all fills of this iteration at once
    return mask


# ---- §6 segment mean ----------------------------------------------------------------------


def segment_mean(features: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``(Q, C) float64`` mean of the ``(N, C)`` features over each proposal, the columns of the
    dense ``(N, Q)`` bool ``masks``: ``masksᵀ X / |q|`` (every proposal non-empty)."""
    m = np.asarray(masks, dtype=bool).astype(np.float64)
    return (m.T @ np.asarray(features, dtype=np.float64)) / m.sum(axis=0)[:, None]


# ---- superpoints: ScanNet's segmentator (folk.ops.superpoints) ----------------------------


def scannet_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(N, 3) float32``: per vertex, the running mean in face order of the unit normals of its
    faces (zero-area faces left out), in float32 scalar operations in ScanNet's order."""
    v = np.asarray(vertices, dtype=np.float32)
    normals = np.zeros((v.shape[0], 3), dtype=np.float32)
    counts = np.zeros(v.shape[0], dtype=np.int64)
    one = np.float32(1.0)
    with np.errstate(all="ignore"):
        for i1, i2, i3 in np.asarray(faces, dtype=np.int64).tolist():
            (x1, y1, z1), (x2, y2, z2), (x3, y3, z3) = v[i1], v[i2], v[i3]
            ux, uy, uz = x2 - x1, y2 - y1, z2 - z1
            wx, wy, wz = x3 - x1, y3 - y1, z3 - z1
            cx, cy, cz = uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx
            length = np.sqrt(cx * cx + cy * cy + cz * cz)
            face = np.array([cx / length, cy / length, cz / length], dtype=np.float32)
            if not np.isfinite(face).all():
                continue
            for vertex in (i1, i2, i3):
                t = one / (np.float32(counts[vertex]) + one)
                normals[vertex] = t * face + (one - t) * normals[vertex]
            for vertex in (i1, i2, i3):
                counts[vertex] += 1
    return normals


def scannet_mesh_edges(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(edges (3F, 2) int64, weights (3F,) float32)``: per face ``(i1, i2, i3)`` the edges
    ``(i1, i2)``, ``(i1, i3)``, ``(i3, i2)``; weight ``1 − n_a·n_b``, squared when
    ``n_b · normalize(p_b − p_a) > 0``, in float32 in ScanNet's order."""
    v = np.asarray(vertices, dtype=np.float32)
    edges = np.array([(a, b) for i1, i2, i3 in np.asarray(faces, dtype=np.int64).tolist()
                      for a, b in ((i1, i2), (i1, i3), (i3, i2))], dtype=np.int64).reshape(-1, 2)
    return edges, oriented_weights(v, scannet_vertex_normals(v, faces), edges)


def felzenszwalb_segments(num_vertices: int, edges: np.ndarray, weights: np.ndarray,
                          k_thresh: float, min_vertices: int) -> np.ndarray:
    """``(N,) int64`` segment ids (``0…S−1`` in the order of each segment's first vertex):
    Felzenszwalb–Huttenlocher over the edges sorted stably by float32 weight (join ``A`` and
    ``B`` when ``w ≤ T(A)`` and ``w ≤ T(B)``, ``T = w + k_thresh / |C|`` after a join, ``k_thresh``
    alone for a single vertex), then one pass joining the components of each edge, in the same
    order, while either has fewer than ``min_vertices`` vertices."""
    weights = np.asarray(weights, dtype=np.float32)
    order = np.argsort(weights, kind="stable")
    ends = np.asarray(edges, dtype=np.int64)[order].tolist()
    ws = weights[order].tolist()  # float32 values, exact as Python floats
    k = np.float32(k_thresh)
    parent = list(range(num_vertices))
    size = [1] * num_vertices
    threshold = [float(k)] * num_vertices

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    def join(a: int, b: int) -> int:
        parent[b] = a
        size[a] += size[b]
        return a

    for (a, b), w in zip(ends, ws, strict=True):
        a, b = find(a), find(b)
        if a != b and w <= threshold[a] and w <= threshold[b]:
            root = join(a, b)
            threshold[root] = float(np.float32(w) + k / np.float32(size[root]))
    for a, b in ends:
        a, b = find(a), find(b)
        if a != b and (size[a] < min_vertices or size[b] < min_vertices):
            join(a, b)
    ids: dict[int, int] = {}
    return np.array([ids.setdefault(find(v), len(ids)) for v in range(num_vertices)],
                    dtype=np.int64)


def mesh_superpoints(vertices: np.ndarray, faces: np.ndarray, k_thresh: float,
                     min_vertices: int) -> np.ndarray:
    """ScanNet's segmentator: :func:`felzenszwalb_segments` on :func:`scannet_mesh_edges`."""
    edges, weights = scannet_mesh_edges(vertices, faces)
    return felzenszwalb_segments(len(vertices), edges, weights, k_thresh, min_vertices)


def pca_normals(points: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """``(N, 3) float32``: per point, LAPACK's (``numpy.linalg.eigh``) eigenvector of the
    smallest eigenvalue of the float64 covariance of the point and its ``neighbours``
    ``(N, k)``."""
    p = np.asarray(points, dtype=np.float32).astype(np.float64)
    patch = p[np.concatenate([np.arange(p.shape[0])[:, None], neighbours], axis=1)]
    centred = patch - patch.mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", centred, centred))
    return vectors[:, :, 0].astype(np.float32)


def knn_graph(points: np.ndarray, k: int,
              off_plane: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(edges (E, 2) int64, weights (E,) float64)`` of the symmetric k-NN graph by brute
    force: ``{i, j}`` when either is among the other's ``k`` nearest (self excluded), each edge
    once as ``(i, j)``, ``i < j``, sorted; weight ``1 − |n_i·n_j|`` with the normal of a point =
    the eigenvector of the smallest eigenvalue of the covariance of it and its neighbours, or
    ``off_plane · (|n_i·d| + |n_j·d|) / 2`` when larger (``d``: unit vector from ``i`` to ``j``).
    Distances must have no ties (random points)."""
    p = np.asarray(points, dtype=np.float32).astype(np.float64)
    n = p.shape[0]
    k = min(k, n - 1)
    normals = np.zeros((n, 3))
    pairs = set()
    for i in range(n):
        distance = np.sqrt(((p - p[i]) ** 2).sum(axis=1))
        nearest = [j for j in np.argsort(distance, kind="stable").tolist() if j != i][:k]
        patch = p[[i, *nearest]]
        centred = patch - patch.mean(axis=0)
        normals[i] = np.linalg.eigh(centred.T @ centred)[1][:, 0]
        pairs.update((min(i, j), max(i, j)) for j in nearest)
    edges = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    weights = 1.0 - np.abs((normals[edges[:, 0]] * normals[edges[:, 1]]).sum(axis=1))
    d = p[edges[:, 1]] - p[edges[:, 0]]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    off = np.abs((normals[edges[:, 0]] * d).sum(1)) + np.abs((normals[edges[:, 1]] * d).sum(1))
    return edges, np.maximum(weights, off_plane * off / 2)


def oriented_weights(points: np.ndarray, normals: np.ndarray,
                     edges: np.ndarray) -> np.ndarray:
    """``(E,) float32``: ScanNet's mesh rule (:func:`scannet_mesh_edges`) on given edges and
    oriented normals: ``w = 1 − n_a·n_b``, squared when ``n_b · normalize(p_b − p_a) > 0``, one
    float32 scalar operation at a time in ScanNet's order."""
    v = np.asarray(points, dtype=np.float32)
    n = np.asarray(normals, dtype=np.float32)
    one = np.float32(1.0)
    out = []
    with np.errstate(all="ignore"):
        for a, b in np.asarray(edges, dtype=np.int64).tolist():
            dx, dy, dz = v[b, 0] - v[a, 0], v[b, 1] - v[a, 1], v[b, 2] - v[a, 2]
            dd = np.sqrt(dx * dx + dy * dy + dz * dz)
            dx, dy, dz = dx / dd, dy / dd, dz / dd
            dot = n[a, 0] * n[b, 0] + n[a, 1] * n[b, 1] + n[a, 2] * n[b, 2]
            convex = n[b, 0] * dx + n[b, 1] * dy + n[b, 2] * dz
            w = one - dot
            out.append(w * w if convex > 0 else w)
    return np.array(out, dtype=np.float32).reshape(-1)


def propagate_signs(normals: np.ndarray, tree_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(signs (N,) ±1, component (N,))``: a walk over the forest of ``tree_edges`` ``(E, 2)``
    from each component's smallest point (sign +1), every point taking the sign that makes its
    normal agree (dot ≥ 0) with its already signed parent's."""
    nrm = np.asarray(normals, dtype=np.float64)
    n = nrm.shape[0]
    adjacent: list[list[int]] = [[] for _ in range(n)]
    for a, b in np.asarray(tree_edges, dtype=np.int64).tolist():
        adjacent[a].append(b)
        adjacent[b].append(a)
    sign = np.zeros(n)
    component = np.full(n, -1, dtype=np.int64)
    count = 0
    for root in range(n):
        if component[root] >= 0:
            continue
        sign[root], component[root], stack = 1.0, count, [root]
        while stack:
            u = stack.pop()
            for w in adjacent[u]:
                if component[w] < 0:
                    component[w] = count
                    sign[w] = sign[u] if float(nrm[w] @ nrm[u]) >= 0 else -sign[u]
                    stack.append(w)
        count += 1
    return sign, component
