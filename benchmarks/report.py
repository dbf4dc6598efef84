#!/usr/bin/env python
"""Write benchmarks/RESULTS.md from the benchmarks' pytest-benchmark JSON.

    python benchmarks/report.py --run [-- PYTEST_ARGS]      # run every benchmark, write both files
    python benchmarks/report.py bench.json > benchmarks/RESULTS.md

``--run`` runs ``pytest benchmarks/ --benchmark-json=...`` (extra arguments after ``--`` go to
pytest), keeps the JSON as ``benchmarks/results.json`` (without the raw per-round timings and
the CPU flag list) and writes ``benchmarks/RESULTS.md`` from it. If a benchmark fails, nothing
is written.

Every number in RESULTS.md comes from the JSON: the date and commit from pytest-benchmark's
``datetime`` / ``commit_info``; the machine from ``machine_info`` (benchmarks/conftest.py adds
memory, GPU, library versions and load); each time from ``stats`` (the minimum over the
rounds); sizes, memory and stage timings from each benchmark's ``extra_info``. The prose that
explains each table lives here, as templates; a benchmark no template knows still appears, in
the last table. tests/test_bench_report.py checks RESULTS.md against results.json.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "results.json"
SOURCE_NAME = "benchmarks/results.json"

#: The speed target of the visibility kernel (234k points, 100 frames, 150 proposals).
VISIBILITY_TARGET_S, VISIBILITY_TARGET_MB = 0.1, 200.0
SCANNET200_VAL_SCENES = 312


# ---- formatting ---------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    """``0.0962`` -> ``"96.2 ms"``: three significant digits in s, ms or µs."""
    if seconds is None:
        return "–"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale or unit == "µs":
            value = seconds / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f} {unit}"
    raise AssertionError("unreachable")


def fmt_ratio(slow: float | None, fast: float | None) -> str:
    """How many times ``fast`` is faster than ``slow``: ``"155×"``, ``"2.2×"``."""
    if slow is None or fast is None or fast <= 0:
        return "–"
    ratio = slow / fast
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def fmt_mb(mb: float | None) -> str:
    return "" if mb is None else f", +{mb:.1f} MB"


def fmt_int(value) -> str:
    return "?" if value is None else f"{int(value):,}"


# ---- the JSON -----------------------------------------------------------------------------


class Results:
    """The benchmarks of one pytest-benchmark JSON, by ``"<module>::<test>"``."""

    def __init__(self, data: dict):
        self.data = data
        self.machine = data.get("machine_info", {})
        self.by_key: dict[str, dict] = {}
        for bench in data.get("benchmarks", []):
            module = Path(bench.get("fullname", "").split("::")[0]).stem or "?"
            self.by_key[f"{module}::{bench['name']}"] = bench
        self.used: set[str] = set()

    def bench(self, key: str) -> dict | None:
        found = self.by_key.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def time(self, key: str) -> float | None:
        """The minimum over the rounds, seconds."""
        found = self.bench(key)
        return None if found is None else float(found["stats"]["min"])

    def info(self, key: str, name: str, default=None):
        found = self.bench(key)
        return default if found is None else found.get("extra_info", {}).get(name, default)

    def has_module(self, module: str) -> bool:
        return any(key.startswith(module + "::") for key in self.by_key)

    def rounds(self, key: str) -> int | None:
        found = self.bench(key)
        return None if found is None else int(found["stats"]["rounds"])


# ---- sections -----------------------------------------------------------------------------


def header(r: Results, source: str) -> list[str]:
    m = r.machine
    f = m.get("folk", {}) if isinstance(m.get("folk"), dict) else {}
    cpu = f.get("cpu_model") or m.get("cpu", {}).get("brand_raw") or m.get("processor") or "?"
    cores = f.get("logical_cpus") or m.get("cpu", {}).get("count")
    when = r.data.get("datetime")
    try:
        when = dt.datetime.fromisoformat(when).astimezone(dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        when = when or "?"
    commit = r.data.get("commit_info", {})
    commit_text = (f"`{commit['id'][:10]}`" + (" with uncommitted changes"
                                                if commit.get("dirty") else "")
                   if commit.get("id") else "?")
    gpu = f.get("gpu") if f else "?"
    software = [f"Python {m.get('python_version', '?')}"]
    if f.get("torch"):
        software.append(f"torch {f['torch']} ({f.get('torch_threads', '?')} threads)")
    if f.get("numpy"):
        software.append(f"NumPy {f['numpy']}")
    if f.get("folk"):
        folk = f"folk {f['folk']}"
        if f.get("openmp_threads") is not None:
            folk += (f" (folk._C with {f['openmp_threads']} OpenMP threads; folk._cuda "
                     + ("built" if f.get("folk_cuda_built") else "not built")
                     + (", GPU usable)" if f.get("folk_cuda_usable") else ", not usable here)"))
        software.append(folk)

    def load(values) -> str:
        return " / ".join(f"{v:.2f}" for v in values) if values else "?"

    lines = [
        "# Benchmark results",
        "",
        "<!-- Generated by benchmarks/report.py: edit the generator, not this file. -->",
        "",
        "Every figure on this page comes from one run of the benchmarks under pytest-benchmark,",
        "written by one command:",
        "",
        "```bash",
        (".venv/bin/python benchmarks/report.py --run   # runs benchmarks/, writes "
        "results.json and this file"),
        "```",
        "",
        f"Source: `{source}`. Times are the minimum over the rounds (the rounds are in the",
        "JSON); ratios compare implementations timed in the same run. Memory (`+… MB`) is the",
        "growth of the process's resident high-water mark during the call. The documentation",
        "links here instead of repeating these numbers.",
        "",
        "| | |",
        "|---|---|",
        f"| date | {when} |",
        f"| commit | {commit_text} |",
        f"| CPU | {cpu}, {cores if cores is not None else '?'} logical CPUs |",
        f"| memory | {f['memory_gib']} GiB |" if f.get("memory_gib") else "| memory | ? |",
        f"| GPU | {gpu if gpu else 'none'} |",
        f"| system | {m.get('system', '?')} {m.get('release', '')} ({m.get('machine', '?')}) |",
        f"| software | {', '.join(software)} |",
        (f"| load average (1 / 5 / 15 min) | {load(f.get('load_average_start'))} at the start, "
        f"{load(f.get('load_average_end'))} at the end |"),
        "",
    ]
    if not gpu:
        lines += [("No GPU was available to this run: the CUDA kernels are not timed here "
                  "(their parity"), "tests run on machines that have one).", ""]
    return lines


def section_geometry(r: Results) -> list[str] | None:
    g = "bench_geometry::"
    target = g + "test_visibility_folk_cpp_target_size"
    main = [k for k in (g + "test_visibility_folk_cpp", g + "test_views_folk",
                        g + "test_mask_completion_folk_cpp") if r.bench(k)]
    if not main and not r.bench(target):
        return None
    lines = ["## Teacher geometry (`bench_geometry.py`)", ""]
    if main:
        lines += _geometry_table(r, g, r.bench(main[0])["extra_info"])
    lines += _visibility_target(r, target)
    return lines


def _geometry_table(r: Results, g: str, info: dict) -> list[str]:
    frames, proposals = info.get("frames"), info.get("proposals")
    lines = [
        (f"Input: the synthetic `scannet` preset (`folk.synthetic`, seed 0): "
        f"{fmt_int(info.get('points'))} points, {fmt_int(proposals)} object proposals (its GT"),
        (f"instances, {fmt_int(info.get('memberships'))} memberships) and {fmt_int(frames)} "
        f"frames of {info.get('width', '?')} × {info.get('height', '?')} depth (ScanNet's "
        "stride 10 over the raw frames),"),
        "rendered with Open3D's raycaster plus sensor-like noise.",
        "",
        ("| step | folk C++ | NumPy reference | OpenMask3D-style | folk vs reference | "
        "folk vs OpenMask3D-style |"),
        "|---|---|---|---|---|---|",
    ]

    def cell(key: str, bold: bool = False) -> str:
        t = r.time(key)
        if t is None:
            return "–"
        text = f"**{fmt_time(t)}**" if bold else fmt_time(t)
        return text + fmt_mb(r.info(key, "peak_extra_mb"))

    vis, vis_ref, vis_om = (g + "test_visibility_folk_cpp", g + "test_visibility_numpy_reference",
                            g + "test_visibility_openmask3d_style")
    om_t, factor = r.time(vis_om), r.info(vis_om, "extrapolation_factor")
    om_full = om_t * factor if om_t is not None and factor else om_t
    if om_t is None:
        om_cell = "–"
    else:
        om_cell = (f"{fmt_time(om_t)} for {r.info(vis_om, 'frames_run', '?')} frames → "
                   f"**{fmt_time(om_full)}** extrapolated (×{factor:g})"
                   f"{fmt_mb(r.info(vis_om, 'peak_extra_mb'))} for "
                   f"{r.info(vis_om, 'frames_run', '?')} frames; all frames would need "
                   f"{r.info(vis_om, 'full_run_arrays_gb', '?')} GB")
    lines.append(f"| visibility counts, {fmt_int(frames)} frames × {fmt_int(proposals)} "
                 f"proposals | {cell(vis, True)} | {cell(vis_ref)} | {om_cell} | "
                 f"{fmt_ratio(r.time(vis_ref), r.time(vis))} | "
                 f"{fmt_ratio(om_full, r.time(vis))} |")

    views, views_ref, views_om = (g + "test_views_folk", g + "test_views_numpy_reference",
                                  g + "test_views_openmask3d_style")
    om_views = f"{fmt_time(r.time(views_om))} (argsort only)" if r.time(views_om) else "–"
    lines.append(f"| view selection (top-5, θ = 15°) | {cell(views)} | {cell(views_ref)} | "
                 f"{om_views} | {fmt_ratio(r.time(views_ref), r.time(views))} | – |")

    sparse = g + "test_sparse_masks_folk_cpp"
    lines.append(f"| sparse masks of the {fmt_int(r.info(sparse, 'pairs'))} selected "
                 f"(proposal, view) pairs | {cell(sparse)} | – | – | | |")

    comp, comp_ref = g + "test_mask_completion_folk_cpp", g + "test_mask_completion_numpy_reference"
    pix_in, pix_out = r.info(comp, "mean_pixels_in"), r.info(comp, "mean_pixels_out")
    pixels = (f" ({pix_in:,.0f} → {pix_out:,.0f} pixels per mask, mean)"
              if pix_in is not None and pix_out is not None else "")
    lines.append(f"| density-guided completion of those {fmt_int(r.info(comp, 'masks'))} "
                 f"masks{pixels} | {cell(comp, True)} | {cell(comp_ref)} | none (OpenMask3D "
                 f"prompts SAM) | {fmt_ratio(r.time(comp_ref), r.time(comp))} | |")
    lines += [
        "",
        ("\"OpenMask3D-style\" is written from OpenMask3D's published description (per-frame "
        "float64"),
        ("projection, a views × masks × H × W boolean array, ranking by pixel sums). That array "
        "does not"),
        ("fit for all frames, so it runs on the first few and its time is extrapolated "
        "linearly."),
        "",
    ]
    return lines


def _visibility_target(r: Results, target: str) -> list[str]:
    t = r.time(target)
    lines: list[str] = []
    if t is not None:
        mb = r.info(target, "peak_extra_mb")
        met_t = "met" if t <= VISIBILITY_TARGET_S else "**not met**"
        met_m = ("met" if mb is not None and mb <= VISIBILITY_TARGET_MB else
                 "not measured" if mb is None else "**not met**")
        lines += [
            (f"**The visibility target** (≤ {VISIBILITY_TARGET_S:g} s and ≤ "
            f"{VISIBILITY_TARGET_MB:.0f} MB for {fmt_int(r.info(target, 'points'))} points, "
            f"{fmt_int(r.info(target, 'frames'))} frames, "
            f"{fmt_int(r.info(target, 'proposals'))} proposals):"),
            (f"on a random scene of exactly that size (points in a 4 m cube, z-buffered "
            f"{r.info(target, 'width', '?')} × {r.info(target, 'height', '?')} depth), "
            f"`visibility_counts` takes **{fmt_time(t)}** (time: {met_t})"),
            (f"with {f'+{mb:.1f} MB' if mb is not None else 'unmeasured'} of extra memory "
            f"(memory: {met_m})."),
            "",
        ]
    return lines


def section_student(r: Results) -> list[str] | None:
    s = "bench_student::"
    rows = [
        ("segment_mean_cpp", "segment mean, folk C++ (CSR, OpenMP)"),
        ("segment_mean_torch", "segment mean, torch (CSR, `index_add`)"),
        ("segment_mean_dense_reference", "segment mean, dense reference (N × Q float matrix)"),
        ("membership_from_masks", "masks → proposal membership (CSR)"),
        ("nms", "mask NMS at IoU 0.9"),
        ("adapter_and_classification", "adapter + softmax over {classes} classes"),
        ("predict_scene", "**`predict_scene` (all of the above)**"),
        ("write_submission", "writing the submission files ({instances} instances)"),
        ("geometric_proposals", "geometric proposals (no Mask3D)"),
        ("superpoint_proposals[points]",
         "superpoint-merging proposals of the points (no Mask3D), {superpoint_proposals}"),
        ("superpoint_proposals[oriented]",
         "the same with `--orient-normals`, {superpoint_proposals_oriented}"),
        ("geometric_features", "geometric features, {geometric_feature_dim}-d (no Mask3D)"),
    ]
    present = [(f"{s}test_{name}", label) for name, label in rows if r.bench(f"{s}test_{name}")]
    if not present:
        return None
    info = dict(r.bench(present[0][0])["extra_info"])
    for key, _ in present:
        info.update({k: v for k, v in r.bench(key)["extra_info"].items() if k not in info})
    lines = [
        "## Student prediction (`bench_student.py`)",
        "",
        (f"One ScanNet-sized scene (the synthetic `scannet` preset, seed 0): "
        f"{fmt_int(info.get('points'))} points, {fmt_int(info.get('proposals'))} proposals"),
        (f"({fmt_int(info.get('nnz'))} memberships), {info.get('feature_dim', '?')}-dim point "
        f"features, a {info.get('feature_dim', '?')} → {info.get('hidden', '?')} → "
        f"{info.get('text_dim', '?')} adapter."),
        "",
        "| step | time |",
        "|---|---|",
    ]
    for key, label in present:
        t = fmt_time(r.time(key))
        if "predict_scene" in key:
            t = f"**{t}**"
        label = label.format_map(_Missing({k: (f"{v:,}" if isinstance(v, int) else v)
                                           for k, v in info.items()}))
        lines.append(f"| {label} | {t} |")
    cpp = r.time(s + "test_segment_mean_cpp")
    lines += [
        "",
        (f"C++ segment mean vs the dense reference: "
        f"{fmt_ratio(r.time(s + 'test_segment_mean_dense_reference'), cpp)}; vs the torch "
        f"path: {fmt_ratio(r.time(s + 'test_segment_mean_torch'), cpp)}."),
        "",
    ]
    return lines


class _Missing(dict):
    def __missing__(self, key):
        return "?"


#: The folk teacher's stages (``TeacherTargets.meta["seconds"]``) in pipeline order; ``embed``
#: is the sum of sparse masks, completion and CLIP.
_STAGE_NAMES = {"visibility": "visibility", "views": "view selection", "masks": "sparse masks",
                "completion": "completion", "clip": "CLIP + pooling", "embed": "embedding",
                "vote": "vote"}


def section_teacher(r: Results) -> list[str] | None:
    t = "bench_teacher::"
    folk_small, om_small = t + "test_teacher_folk_small_clip", t + "test_teacher_openmask3d_small_clip"
    folk_big, om_big = (t + "test_teacher_folk_vit_b16_sized_clip",
                        t + "test_teacher_openmask3d_vit_b16_sized_clip")
    student, geo = t + "test_student_predict_same_scene", t + "test_geometric_features_same_scene"
    keys = (folk_small, om_small, folk_big, om_big, student, geo)
    present = [k for k in keys if r.bench(k)]
    if not present:
        return None
    info = r.bench(present[0])["extra_info"]
    lines = [
        "## Teacher and student, per scene (`bench_teacher.py`)",
        "",
        (f"One small synthetic scene (seed 0): {fmt_int(info.get('points'))} points, "
        f"{fmt_int(info.get('frames'))} frames (ScanNet's stride 10),"),
        (f"{fmt_int(info.get('proposals'))} proposals (its GT instances). The teacher times "
        "include reading the frames' images; CLIP runs on the CPU. The ViT-B/16-sized CLIP"),
        "has random weights: it shows the speed of a real CLIP of that size, not its labels.",
        "",
        "| teacher | folk's small CLIP | ViT-B/16-sized CLIP |",
        "|---|---|---|",
        (f"| folk (visibility, views, dense masks, one forward per frame, masked attention) | "
        f"**{fmt_time(r.time(folk_small))}** | **{fmt_time(r.time(folk_big))}** |"),
        (f"| OpenMask3D-style crops (top-5 views, 3 crops each, one forward per crop) | "
        f"{fmt_time(r.time(om_small))} | {fmt_time(r.time(om_big))} |"),
        (f"| speed-up of folk over crops | {fmt_ratio(r.time(om_small), r.time(folk_small))} | "
        f"{fmt_ratio(r.time(om_big), r.time(folk_big))} |"),
        "",
    ]
    stages = r.info(folk_small, "stages")
    if stages:
        order = [k for k in _STAGE_NAMES if k in stages and k != "embed"]
        order += [k for k in stages if k not in _STAGE_NAMES and k != "total"]
        parts = [f"{_STAGE_NAMES.get(k, k)} {fmt_time(stages[k])}" for k in order]
        lines += [(f"Stages of the folk teacher, small CLIP (its fastest round): "
                  f"{', '.join(parts)}."), ""]
    ts, tg, tf = r.time(student), r.time(geo), r.time(folk_small)
    if ts is not None or tg is not None:
        lines += [
            "| student, same scene | time |",
            "|---|---|",
            (f"| label step (`predict_scene`: NMS, segment mean, adapter, softmax), "
            f"{r.info(student, 'feature_dim', '?')}-dim features in memory | "
            f"**{fmt_time(ts)}** |"),
            (f"| geometric features ({r.info(geo, 'feature_dim', '?')}-d), when there are no "
            f"Mask3D features | {fmt_time(tg)} |"),
            "",
        ]
        tb = r.time(folk_big)
        if ts is not None and (tf is not None or tb is not None):
            lines += [
                ("| speed-up of the student over the folk teacher | small CLIP | "
                "ViT-B/16-sized CLIP |"),
                "|---|---|---|",
                f"| label step alone | **{fmt_ratio(tf, ts)}** | **{fmt_ratio(tb, ts)}** |",
            ]
            if tg is not None:
                lines.append(f"| label step + geometric features | {fmt_ratio(tf, ts + tg)} | "
                             f"{fmt_ratio(tb, ts + tg)} |")
            lines.append("")
    return lines


def section_evaluation(r: Results) -> list[str] | None:
    e = "bench_evaluation::"
    match, full, final = (e + "test_match_one_scannet_sized_scene",
                          e + "test_evaluate_scannet_sized_scenes",
                          e + "test_final_ap_step_over_many_scenes")
    if not any(r.bench(k) for k in (match, full, final)):
        return None
    scenes = r.info(full, "scenes")
    per_scene = r.time(full) / scenes if r.time(full) is not None and scenes else None
    whole = (f"**≈ {per_scene * SCANNET200_VAL_SCENES:.1f} s**" if per_scene is not None
             else "–")
    return [
        "## Evaluation (`bench_evaluation.py`)",
        "",
        (f"Synthetic ScanNet-sized scenes: {fmt_int(r.info(match, 'vertices'))} vertices, "
        f"{fmt_int(r.info(match, 'gt_instances'))} GT instances and "
        f"{fmt_int(r.info(match, 'predictions'))} predictions each."),
        "",
        "| step | time |",
        "|---|---|",
        (f"| matching one scene (intersections, IoU, matching at 10 thresholds) | "
        f"{fmt_time(r.time(match))} |"),
        (f"| `evaluate()` in memory, per scene (over {fmt_int(scenes)} scenes) | "
        f"{fmt_time(per_scene)} |"),
        (f"| the same, extrapolated to ScanNet200's {SCANNET200_VAL_SCENES} validation scenes | "
        f"{whole} |"),
        (f"| final AP step, {SCANNET200_VAL_SCENES} scenes' worth of matches | "
        f"{fmt_time(r.time(final))} |"),
        "",
        "Reading submission text files from disk is not included.",
        "",
    ]


#: The synthetic generator's stages (``extra_info["seconds"]``) in the order they run.
_SYNTHETIC_STAGES = ("build", "write_points", "render", "gt_proposals")


def section_synthetic(r: Results) -> list[str] | None:
    key = "bench_synthetic::test_generate_small_scene"
    t = r.time(key)
    if t is None:
        return None
    stages = r.info(key, "seconds") or {}
    # The generator's stages in the order it runs them (the JSON keeps keys sorted).
    order = [k for k in _SYNTHETIC_STAGES if k in stages]
    order += sorted(k for k in stages if k not in _SYNTHETIC_STAGES and k != "total")
    parts = ", ".join(f"{k} {fmt_time(stages[k])}" for k in order)
    return [
        "## Synthetic generator (`bench_synthetic.py`)",
        "",
        f"One `small` preset scene (seed 0): {fmt_int(r.info(key, 'points'))} points, "
        f"{fmt_int(r.info(key, 'objects'))} objects, {fmt_int(r.info(key, 'frames'))} frames, "
        f"generated and written in **{fmt_time(t)}**" + (f" ({parts})." if parts else "."),
        "",
    ]


#: The deployment runtime's targets on a 2-core CPU (issue 10): the ONNX Runtime label step
#: within this many times the floor, the runtime end to end within this many seconds at Q = 150.
RUNTIME_FLOOR_FACTOR, RUNTIME_TARGET_S = 2.0, 0.015


def section_runtime(r: Results) -> list[str] | None:
    b = "bench_runtime::"
    rows = [("runtime_torch_predict_scene", "PyTorch eager `predict_scene` (dense masks in)"),
            ("runtime_onnx_session", "ONNX Runtime session alone (graph of the kept proposals)"),
            ("runtime_end_to_end",
             "**runtime end to end** (`Runtime.label`: CSR in, NMS, graph, classification)")]
    sizes = sorted({int(k.rsplit("[", 1)[1].rstrip("]")) for k in r.by_key
                    if k.startswith(b + "test_runtime_") and "[" in k})
    floor_key = b + "test_runtime_read_floor"
    if not sizes and not r.bench(floor_key):
        return None
    first = next((r.bench(f"{b}test_{name}[{q}]") for q in sizes for name, _ in rows
                  if r.bench(f"{b}test_{name}[{q}]")), None)
    info = first["extra_info"] if first else {}
    floor = r.info(floor_key, "floor_s")
    lines = [
        "## Deployment runtime (`bench_runtime.py`)",
        "",
        (f"A ScanNet-sized scene (the synthetic `scannet` preset): {fmt_int(info.get('points'))} "
         f"points with {info.get('feature_dim', '?')}-dim features, a "
         f"{info.get('feature_dim', '?')} → {info.get('hidden', '?')} → "
         f"{info.get('text_dim', '?')} adapter exported by `folk-export` (fp32), "
         f"{fmt_int(info.get('classes'))} classes; Q proposals (the instances and perturbed "
         "copies of them)."),
        "",
        "| step | " + " | ".join(f"Q = {q}" for q in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        ("| proposals kept by NMS, memberships (point, proposal) they hold | "
         + " | ".join(f"{fmt_int(r.info(f'{b}test_runtime_end_to_end[{q}]', 'kept'))}, "
                      f"{fmt_int(r.info(f'{b}test_runtime_end_to_end[{q}]', 'kept_memberships'))}"
                      for q in sizes) + " |"),
    ]
    for name, label in rows:
        lines.append(f"| {label} | "
                     + " | ".join(fmt_time(r.time(f"{b}test_{name}[{q}]")) for q in sizes) + " |")
    bandwidth = r.info(floor_key, "bandwidth_gb_s")
    megabytes = (r.info(floor_key, "feature_bytes") or 0) / 1e6
    lines.append(f"| floor: reading the features once ({megabytes:.1f} MB at "
                 f"{bandwidth or 0:.1f} GB/s, a large copy's bandwidth in this run) | "
                 + " | ".join(fmt_time(floor) for _ in sizes) + " |")
    for name, label in (("runtime_onnx_session", "session / floor"),
                        ("runtime_end_to_end", "end to end / floor")):
        lines.append(f"| {label} | " + " | ".join(
            fmt_ratio(r.time(f"{b}test_{name}[{q}]"), floor) for q in sizes) + " |")
    lines.append("| speed-up of the runtime over PyTorch eager | " + " | ".join(
        fmt_ratio(r.time(f"{b}test_runtime_torch_predict_scene[{q}]"),
                  r.time(f"{b}test_runtime_end_to_end[{q}]")) for q in sizes) + " |")
    lines.append("")
    lines += _runtime_targets(r, b, floor)
    cold, cold_torch = b + "test_runtime_cold_start", b + "test_runtime_cold_start_torch"
    if r.bench(cold) or r.bench(cold_torch):
        lines += [
            ("Cold start (a fresh Python process that loads the model and labels one scene, "
             "Q = 150; inside the process, after the interpreter started):"),
            "",
            "| | whole process | inside the process | PyTorch imported |",
            "|---|---|---|---|",
        ]
        for key, label in ((cold, "folk_runtime + the deployment folder"),
                           (cold_torch, "folk + PyTorch + the checkpoint")):
            if r.bench(key):
                lines.append(f"| {label} | {fmt_time(r.time(key))} | "
                             f"{fmt_time(r.info(key, 'inside_process_s'))} | "
                             f"{'yes' if r.info(key, 'torch_imported') else 'no'} |")
        lines += ["", (f"Cold start of the runtime against PyTorch's: "
                       f"{fmt_ratio(r.time(cold_torch), r.time(cold))} faster."), ""]
    return lines


def _runtime_targets(r: Results, b: str, floor: float | None) -> list[str]:
    session = r.time(f"{b}test_runtime_onnx_session[150]")
    end_to_end = r.time(f"{b}test_runtime_end_to_end[150]")
    if session is None or end_to_end is None or floor is None:
        return []

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return [
        (f"Targets at Q = 150 on this machine: the ONNX Runtime label step within "
         f"{RUNTIME_FLOOR_FACTOR:g}× of the floor — {fmt_ratio(session, floor)} ("
         f"{met(session <= RUNTIME_FLOOR_FACTOR * floor)}); the runtime end to end ≤ "
         f"{fmt_time(RUNTIME_TARGET_S)} — {fmt_time(end_to_end)} "
         f"({met(end_to_end <= RUNTIME_TARGET_S)})."),
        "",
    ]


def section_superpoints(r: Results) -> list[str] | None:
    full = "bench_superpoints::test_superpoints_mesh_cpp"
    small = "bench_superpoints::test_superpoints_mesh_cpp_small"
    ref = "bench_superpoints::test_superpoints_mesh_reference_small"
    cloud = "bench_superpoints::test_superpoints_point_cloud"
    t_full, t_small, t_ref, t_cloud = r.time(full), r.time(small), r.time(ref), r.time(cloud)
    if t_full is None:
        return None
    return [
        "## Superpoints (`bench_superpoints.py`)",
        "",
        ("ScanNet's segmentator (`folk.ops.mesh_superpoints`: vertex normals, edge weights, "
         "Felzenszwalb–Huttenlocher with kThresh 0.01, segments under 20 vertices merged) on "
         "bumpy heightfield meshes, and its point-cloud variant (k-NN graph, PCA normals) on the "
         "same vertices."),
        "",
        "| input | folk C++ | NumPy reference | folk vs reference | segments |",
        "|---|---|---|---|---|",
        (f"| mesh, {fmt_int(r.info(full, 'vertices'))} vertices, "
        f"{fmt_int(r.info(full, 'faces'))} faces | **{fmt_time(t_full)}** | – | | "
        f"{fmt_int(r.info(full, 'segments'))} |"),
        (f"| mesh, {fmt_int(r.info(small, 'vertices'))} vertices (identical ids checked) | "
        f"{fmt_time(t_small)} | {fmt_time(t_ref)} | {fmt_ratio(t_ref, t_small)} | "
        f"{fmt_int(r.info(small, 'segments'))} |"),
        (f"| point cloud, {fmt_int(r.info(cloud, 'points'))} points (`point_superpoints`) | "
        f"{fmt_time(t_cloud)} | – | | {fmt_int(r.info(cloud, 'segments'))} |"),
        "",
    ]


def section_viewer(r: Results) -> list[str] | None:
    start, query = "bench_viewer::test_viewer_start", "bench_viewer::test_viewer_query"
    url = r.info(start, "url_s")
    if url is None:
        return None
    torch_note = ("PyTorch imported by then" if r.info(start, "torch_imported")
                  else "PyTorch not imported")
    return [
        "## Interactive viewer (`bench_viewer.py`)",
        "",
        (f"`folk view` on a ScanNet-size scene: {fmt_int(r.info(start, 'points'))} points, "
         f"{fmt_int(r.info(start, 'feature_dim'))}-dim features from a file, "
         f"{fmt_int(r.info(start, 'proposals'))} proposals, a 96 → 512 → 768 student."),
        "",
        "| step | time |",
        "|---|---|",
        (f"| start-up: launch to the printed URL, fresh process ({torch_note}) | "
        f"**{fmt_time(url)}** |"),
        (f"| a query whose text embedding is cached (cosines, point colours, best matches) | "
        f"{fmt_time(r.time(query))} |"),
        "",
        (f"Targets on this machine: start-up ≤ 3 s — {fmt_time(url)} "
         f"({'met' if url <= 3.0 else '**not met**'}); a query after the first ≤ 100 ms — "
         f"{fmt_time(r.time(query))} "
         f"({'met' if (r.time(query) or 1.0) <= 0.1 else '**not met**'}). The first phrase "
         "outside the checkpoint's embeddings also loads PyTorch and CLIP (about 3 s)."),
        "",
    ]


SECTIONS: list[tuple[str, Callable[[Results], list[str] | None]]] = [
    ("bench_geometry.py", section_geometry),
    ("bench_student.py", section_student),
    ("bench_teacher.py", section_teacher),
    ("bench_evaluation.py", section_evaluation),
    ("bench_synthetic.py", section_synthetic),
    ("bench_runtime.py", section_runtime),
    ("bench_superpoints.py", section_superpoints),
    ("bench_viewer.py", section_viewer),
]


def section_others(r: Results) -> list[str]:
    rest = [k for k in r.by_key if k not in r.used]
    if not rest:
        return []
    lines = ["## Other benchmarks", "", "| benchmark | min | median | rounds | extra_info |",
             "|---|---|---|---|---|"]
    for key in sorted(rest):
        b = r.by_key[key]
        extra = json.dumps(b.get("extra_info", {}), sort_keys=True).replace("|", "\\|")
        lines.append(f"| `{key}` | {fmt_time(b['stats']['min'])} | "
                     f"{fmt_time(b['stats']['median'])} | {b['stats']['rounds']} | {extra} |")
    return lines + [""]


def render(data: dict, source: str = SOURCE_NAME) -> str:
    """RESULTS.md for one pytest-benchmark JSON document."""
    r = Results(data)
    lines = header(r, source)
    missing = []
    for filename, section in SECTIONS:
        body = section(r)
        if body is None:
            missing.append(filename)
        else:
            lines += body
    lines += section_others(r)
    if missing:
        lines += ["## Not in this run", "",
                  "These benchmark files recorded nothing in the JSON: "
                  + ", ".join(f"`{m}`" for m in missing) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


# ---- running ------------------------------------------------------------------------------


def slim(data: dict) -> dict:
    """The JSON without the raw per-round timings and the CPU flag list (kept small)."""
    data = copy.deepcopy(data)
    for bench in data.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
    data.get("machine_info", {}).get("cpu", {}).pop("flags", None)
    return data


def run_benchmarks(pytest_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [sys.executable, "-m", "pytest", str(HERE), f"--benchmark-json={out}",
               "-p", "no:cacheprovider", "-p", "no:dash", *pytest_args]
        print("+ " + " ".join(cmd), file=sys.stderr)
        code = subprocess.call(cmd, cwd=ROOT)
        if code != 0:
            raise SystemExit(f"benchmarks failed (pytest exit {code}): nothing written")
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="?", type=Path, help="pytest-benchmark JSON to report")
    parser.add_argument("--run", action="store_true",
                        help=f"run the benchmarks, write {SOURCE_NAME} and benchmarks/RESULTS.md")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="write here instead of stdout (--run: default benchmarks/RESULTS.md)")
    parser.add_argument("--json-out", type=Path, default=RESULTS_JSON,
                        help=f"--run: where to keep the JSON (default {SOURCE_NAME})")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # pytest arguments for --run
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.run == (args.json is not None):
        parser.error("give either a JSON file or --run")
    if args.run:
        text = json.dumps(slim(run_benchmarks(extra)), indent=1, sort_keys=True) + "\n"
        args.json_out.write_text(text)
        data = json.loads(text)  # render what the file holds, key order included
        source = (SOURCE_NAME if args.json_out.resolve() == RESULTS_JSON
                  else str(args.json_out))
        (args.output or RESULTS_MD).write_text(render(data, source=source))
        print(f"wrote {args.json_out} and {args.output or RESULTS_MD}", file=sys.stderr)
        return 0
    text = render(json.loads(args.json.read_text()), source=str(args.json))
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
