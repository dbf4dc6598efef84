"""Class-agnostic AP / AP50 / AP25 and time of proposal methods on a real ScanNet scan and on
synthetic scenes (a measurement, not a test).

Class-agnostic: every GT instance that is not wall, floor or ceiling counts as one class
(ScanNet200 id of "chair"), every proposal predicts it with its score, and folk's evaluator
(ScanNet's rules: instances and predictions under 100 vertices ignored) computes the AP.

    python scripts/measure_proposals.py --real REAL/scene0000_00 \
        --tsv REAL/scannetv2-labels.combined.tsv --synth /tmp/synth

(``REAL``: a folder of ScanNet release scans, each ``<scene>/`` as ScanNet ships it.)

``--synth DIR`` is a ``folk synth --preset small`` output folder (GT in ``DIR/gt``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from folk.data.ply import read_ply_faces, read_ply_vertices
from folk.data.scannet_gt import read_annotation, read_label_map, read_segments
from folk.evaluation import evaluate
from folk.ops import point_superpoints
from folk.predict.instances import InstancePrediction
from folk.proposals import geometric_proposals
from folk.proposals.cli import merged_proposals
from folk.synthetic.config import scannet200_ids

ONE_CLASS = 2  # ScanNet200 "chair": the one class of a class-agnostic evaluation
STRUCTURE_IDS = (1, 3, 41)  # wall, floor, ceiling (ScanNet ids)


def agnostic_gt(instance: np.ndarray, label: np.ndarray) -> np.ndarray:
    """(N,) GT ids ``ONE_CLASS*1000 + instance + 1`` for non-structure instances, else 0."""
    keep = (instance >= 0) & ~np.isin(label, STRUCTURE_IDS)
    return np.where(keep, ONE_CLASS * 1000 + instance + 1, 0).astype(np.int64)


def ap_of(gt: np.ndarray, masks: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    pred = InstancePrediction(masks, np.full(masks.shape[1], ONE_CLASS), scores)
    result = evaluate({"s": gt}, {"s": pred})
    return 100 * result.ap, 100 * result.ap50, 100 * result.ap25


def one_by_one(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, inv = np.unique(ids, return_inverse=True)
    masks = np.zeros((ids.shape[0], inv.max() + 1), dtype=bool)
    masks[np.arange(ids.shape[0]), inv] = True
    masks = masks[:, masks.sum(0) >= 100]
    return masks, np.ones(masks.shape[1])


def real_scene(folder: Path, tsv: Path) -> dict:
    name = folder.name
    mesh = folder / f"{name}_vh_clean_2.ply"
    v = read_ply_vertices(mesh)
    points = np.stack([v["x"], v["y"], v["z"]], 1)
    colors = np.stack([v["red"], v["green"], v["blue"]], 1)
    faces = read_ply_faces(mesh)
    segs = folder / f"{name}_vh_clean_2.0.010000.segs.json"
    ann = read_annotation(folder / f"{name}.aggregation.json", segs, points.shape[0])
    gt = agnostic_gt(ann.group, ann.scannet_ids(read_label_map(tsv)))
    return {"name": name, "points": points, "colors": colors, "faces": faces, "normals": None, "gt": gt,
                "shipped": read_segments(segs)}


def synth_scenes(folder: Path, limit: int) -> list[dict]:
    out = []
    ids = scannet200_ids()
    structure = {ids["wall"], ids["floor"], ids["ceiling"]}
    for gt_file in sorted((folder / "gt").glob("*.txt"))[:limit]:
        name = gt_file.stem
        v = read_ply_vertices(folder / name / f"{name}_vh_clean_2.ply")
        raw = np.loadtxt(gt_file, dtype=np.int64)
        label = raw // 1000
        instance = np.where((raw > 0) & ~np.isin(label, list(structure)), raw, -1)
        gt = np.where(instance >= 0, ONE_CLASS * 1000 + instance % 1000, 0)
        out.append({"name": name, "points": np.stack([v["x"], v["y"], v["z"]], 1),
                        "colors": np.stack([v["red"], v["green"], v["blue"]], 1), "faces": None,
                        "normals": np.stack([v["nx"], v["ny"], v["nz"]], 1), "gt": gt, "shipped": None})
    return out


def methods(scene: dict):
    """(method name, callable returning (masks, scores)) for one scene."""
    p, c = scene["points"], scene["colors"]

    def geometric():
        prop = geometric_proposals(p.astype(np.float32))
        return prop.masks, prop.scores

    def merged(superpoints=None, orient: bool = False, mesh: bool = True):
        # exactly as `folk proposals` does; mesh=False: the vertices as a bare point cloud
        faces = scene["faces"] if mesh and scene["faces"] is not None else np.zeros((0, 3), int)
        prop = merged_proposals(p.astype(np.float32), c, faces, superpoints, orient)
        return prop.masks, prop.scores

    yield "geometric (baseline)", geometric
    if scene["shipped"] is not None:
        yield "ScanNet superpoints 1 by 1", lambda: one_by_one(scene["shipped"])
    yield "point superpoints 1 by 1", lambda: one_by_one(point_superpoints(p.astype(np.float32)))
    if scene["faces"] is not None:
        yield "superpoint merging, mesh", merged
    if scene["shipped"] is not None:
        yield "merging ScanNet's segs.json", lambda: merged(scene["shipped"])
    yield "superpoint merging, points", lambda: merged(mesh=False)
    yield "merging, oriented points", lambda: merged(orient=True, mesh=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, nargs="*", default=[])
    parser.add_argument("--tsv", type=Path)
    parser.add_argument("--synth", type=Path)
    parser.add_argument("--synth-scenes", type=int, default=4)
    parser.add_argument("--only", default="", help="run only methods containing this text")
    args = parser.parse_args()
    scenes = [real_scene(f, args.tsv) for f in args.real]
    if args.synth:
        scenes += synth_scenes(args.synth, args.synth_scenes)
    print(f"{'scene':<14} {'points':>7} {'method':<28} {'Q':>5} {'AP':>5} {'AP50':>5} "
          f"{'AP25':>5} {'s':>6}")
    totals: dict[str, list] = {}
    for scene in scenes:
        for name, fn in methods(scene):
            if args.only not in name:
                continue
            start = time.perf_counter()
            masks, scores = fn()
            seconds = time.perf_counter() - start
            ap = ap_of(scene["gt"], masks, scores) if masks.shape[1] else (0.0, 0.0, 0.0)
            totals.setdefault(name if scene["shipped"] is None else "", []).append(ap)
            print(f"{scene['name']:<14} {scene['points'].shape[0]:>7} {name:<28} "
                  f"{masks.shape[1]:>5} {ap[0]:5.1f} {ap[1]:5.1f} {ap[2]:5.1f} {seconds:6.2f}",
                  flush=True)
    for name, rows in totals.items():
        if name:
            m = np.mean(rows, axis=0)
            print(f"{'synth mean':<14} {'':>7} {name:<28} {'':>5} {m[0]:5.1f} {m[1]:5.1f} "
                  f"{m[2]:5.1f}")


if __name__ == "__main__":
    main()
