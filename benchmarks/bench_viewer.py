"""``folk view`` on a ScanNet-size scene (pytest-benchmark): how long until its URL is printed,
and what a query costs once its text embedding is known.

The scene: 150,000 points, 96-dim point features (Mask3D's width) in a ``.npy`` file, Q = 150
proposals (``_masks.npy``, each point in one), a random 96 → 512 → 768 VL-adapter checkpoint.
Values are random: only sizes matter for these timings.

* ``test_viewer_start``: ``folk view`` in a fresh process, from launch to the printed URL
  (points, features, proposals, checkpoint read; NMS; student embeddings; colours; the web
  server up): ``extra_info["url_s"]``, the fastest of the rounds (the benchmark's own time
  includes the process's exit), and whether PyTorch was imported by then.
* ``test_viewer_query``: a phrase whose embedding is cached: cosine against every instance,
  the points' colours, the best matches.

    .venv/bin/python -m pytest benchmarks/bench_viewer.py --benchmark-columns=min,mean,rounds
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from folk.data.ply import write_ply
from folk.show.live_query import best_matches, query_point_colors, similarities, view_instances
from folk.student import VLAdapter, save_adapter

POINTS, FEATURE_DIM, PROPOSALS, HIDDEN, TEXT_DIM = 150_000, 96, 150, 512, 768
NAME = "scene0999_00"

#: Runs ``folk view`` and reports, once the URL is printed, whether torch was imported.
START = """
import sys
from folk.cli import main
import folk.show.viewer as viewer
serve = viewer.Viewer.serve_forever
def report(self):
    print("torch" in sys.modules, file=sys.stderr, flush=True)
    raise SystemExit(0)
viewer.Viewer.serve_forever = report
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer")
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 8, size=(POINTS, 3)).astype(np.float32)
    write_ply(root / f"{NAME}.ply", points, rng.integers(0, 255, (POINTS, 3), dtype=np.uint8))
    for folder in ("features", "proposals"):
        (root / folder).mkdir()
    np.save(root / "features" / f"{NAME}.npy",
            rng.normal(size=(POINTS, FEATURE_DIM)).astype(np.float32))
    masks = np.zeros((POINTS, PROPOSALS), bool)
    masks[np.arange(POINTS), rng.integers(PROPOSALS, size=POINTS)] = True
    np.save(root / "proposals" / f"{NAME}_masks.npy", masks)
    torch.manual_seed(0)
    save_adapter(root / "student.pt", VLAdapter(FEATURE_DIM, HIDDEN, TEXT_DIM), {"tau_l": 0.01})
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_viewer_start(benchmark, scene):
    imported, url_s = [], []

    def start():
        argv = ["view", "--scan", str(scene / f"{NAME}.ply"), "--features",
                str(scene / "features"), "--proposals", str(scene / "proposals"),
                "--checkpoint", str(scene / "student.pt"), "--port", str(_free_port())]
        begin = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", START, *argv],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = process.stdout.readline()
        elapsed = time.perf_counter() - begin
        _, err = process.communicate(timeout=60)
        assert url.startswith("http://"), err
        imported.append(err.strip().splitlines()[-1] == "True")
        url_s.append(elapsed)

    benchmark.pedantic(start, rounds=3, iterations=1)
    benchmark.extra_info.update(points=POINTS, proposals=PROPOSALS, feature_dim=FEATURE_DIM,
                                url_s=min(url_s), torch_imported=any(imported))


def test_viewer_query(benchmark):
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 8, size=(POINTS, 3)).astype(np.float32)
    masks = np.zeros((POINTS, PROPOSALS), bool)
    masks[np.arange(POINTS), rng.integers(PROPOSALS, size=POINTS)] = True
    instances = view_instances(points, masks, rng.normal(size=(PROPOSALS, TEXT_DIM)),
                               rng.uniform(size=PROPOSALS),
                               tuple(f"#{q}" for q in range(PROPOSALS)))
    background = np.full((POINTS, 3), 100, np.uint8)
    text = rng.normal(size=TEXT_DIM)

    def query():
        sim = similarities(instances, text)
        query_point_colors(instances, sim, background)
        return best_matches(sim)

    benchmark(query)
    benchmark.extra_info.update(points=POINTS, instances=PROPOSALS)
