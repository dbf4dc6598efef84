"""Time the synthetic scene generator.

As a pytest-benchmark (what benchmarks/RESULTS.md reports): one ``small`` preset scene, written
to a temporary folder, one round::

    .venv/bin/python -m pytest benchmarks/bench_synthetic.py

As a script, for any preset (the ``scannet`` preset takes minutes)::

    python benchmarks/bench_synthetic.py [--preset small|scannet] [--frames N] [--out DIR]

Prints one JSON line: preset, seed, points, objects, frames, seconds per stage, frames/s.
Without ``--out`` the scene goes to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time

from folk.synthetic import build_scene, generate_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=None, help="override the preset's")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    overrides = {} if args.frames is None else {"n_frames": args.frames}

    t0 = time.perf_counter()
    built = build_scene(args.seed, args.preset, **overrides)
    build_s = time.perf_counter() - t0

    out = args.out or tempfile.mkdtemp(prefix="folk-bench-synth-")
    try:
        scene = generate_scene(out, seed=args.seed, preset=args.preset, progress=False,
                               **overrides)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    render_s = scene.seconds["render"]
    print(json.dumps({
        "preset": args.preset, "seed": args.seed, "points": scene.n_points,
        "objects": scene.n_objects, "frames": scene.n_frames,
        "triangles": len(built.geometry.triangles),
        "build_s": round(build_s, 3),
        "seconds": {k: round(v, 3) for k, v in scene.seconds.items()},
        "frames_per_s": round(scene.n_frames / render_s, 2) if render_s > 0 else None,
        "machine": platform.processor() or platform.machine(),
    }))


def test_generate_small_scene(benchmark, tmp_path):
    """One ``small`` preset scene, seed 0, generated and written (one round)."""
    scenes = []

    def run():
        out = tmp_path / f"round{len(scenes)}"
        scenes.append(generate_scene(out, seed=0, preset="small", progress=False))

    benchmark.pedantic(run, rounds=1, iterations=1)
    scene = scenes[-1]
    benchmark.extra_info.update(preset="small", points=scene.n_points,
                                objects=scene.n_objects, frames=scene.n_frames,
                                seconds={k: round(v, 3) for k, v in scene.seconds.items()})


if __name__ == "__main__":
    main()
