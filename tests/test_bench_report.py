"""benchmarks/report.py: RESULTS.md is written from pytest-benchmark's JSON, and agrees with it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_report():
    spec = importlib.util.spec_from_file_location("folk_bench_report",
                                                  ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _load_report()


def _bench(module: str, name: str, minimum: float, rounds: int = 3, **extra) -> dict:
    return {"group": None, "name": name, "fullname": f"benchmarks/{module}.py::{name}",
            "params": None, "param": None, "extra_info": extra, "options": {},
            "stats": {"min": minimum, "max": minimum * 1.5, "mean": minimum * 1.2,
                      "median": minimum * 1.1, "rounds": rounds}}


def _minimal_json(benchmarks: list[dict], gpu: str | None = None) -> dict:
    return {
        "datetime": "2026-11-25T20:58:03.123456+00:00",
        "version": "5.3.1",
        "commit_info": {"id": "0123456789abcdef", "dirty": False},
        "machine_info": {
            "python_version": "3.11.7", "system": "Linux", "release": "6.1", "machine": "x86_64",
            "cpu": {"brand_raw": "Some CPU", "count": 2},
            "folk": {"cpu_model": "AMD EPYC 7B13", "logical_cpus": 2, "memory_gib": 23.5,
                     "numpy": "2.4.6", "torch": "2.14.1", "torch_threads": 2, "gpu": gpu,
                     "folk": "0.1.0", "openmp_threads": 2, "folk_cuda_built": True,
                     "folk_cuda_usable": False, "load_average_start": [0.1, 0.2, 0.3],
                     "load_average_end": [1.0, 0.5, 0.4]},
        },
        "benchmarks": benchmarks,
    }


GEOMETRY = {"points": 149_280, "frames": 300, "proposals": 148, "memberships": 150_000, "width": 640,
                "height": 480}


def test_format_helpers_keep_three_significant_digits():
    assert report.fmt_time(0.0962) == "96.2 ms"
    assert report.fmt_time(14.93) == "14.9 s"
    assert report.fmt_time(1.8412) == "1.84 s"
    assert report.fmt_time(0.000421) == "421 µs"
    assert report.fmt_time(None) == "–"
    assert report.fmt_ratio(14.9, 0.096) == "155×"
    assert report.fmt_ratio(14.2, 6.6) == "2.2×"
    assert report.fmt_ratio(None, 1.0) == "–"


def test_report_takes_machine_date_and_values_from_the_json():
    data = _minimal_json([
        _bench("bench_geometry", "test_visibility_folk_cpp", 0.0962, peak_extra_mb=5.0,
               **GEOMETRY),
        _bench("bench_geometry", "test_visibility_numpy_reference", 14.9, rounds=1,
               peak_extra_mb=9.5, **GEOMETRY),
        _bench("bench_geometry", "test_visibility_openmask3d_style", 1.47, rounds=1,
               peak_extra_mb=359.0, extrapolation_factor=30.0, frames_run=10,
               full_run_arrays_gb=14.4, **GEOMETRY),
        _bench("bench_evaluation", "test_evaluate_scannet_sized_scenes", 0.0552, scenes=4),
    ])
    text = report.render(data)
    assert "| date | 2026-11-25 20:58 UTC |" in text
    assert "AMD EPYC 7B13, 2 logical CPUs" in text
    assert "| memory | 23.5 GiB |" in text
    assert "| GPU | none |" in text
    assert "torch 2.14.1" in text and "NumPy 2.4.6" in text
    assert "0.10 / 0.20 / 0.30 at the start" in text
    assert "149,280 points" in text
    assert "**96.2 ms**, +5.0 MB" in text  # folk C++ visibility
    assert "14.9 s, +9.5 MB" in text  # the reference
    assert "**44.1 s** extrapolated (×30)" in text  # OpenMask3D-style, 1.47 s × 30
    assert "| 155× | 458× |" in text
    assert "13.8 ms" in text  # evaluate() per scene = 55.2 ms / 4
    assert "**≈ 4.3 s**" in text  # × 312 scenes
    assert "`bench_student.py`" in text  # listed as not in this run


def test_report_lists_benchmarks_no_template_knows():
    data = _minimal_json([_bench("bench_new", "test_something_new", 0.5, answer=42)],
                         gpu="NVIDIA H100")
    text = report.render(data)
    assert "| GPU | NVIDIA H100 |" in text
    assert "`bench_new::test_something_new` | 500 ms | 550 ms | 3 |" in text
    assert '"answer": 42' in text


def test_report_of_a_json_without_folk_machine_info_says_unknown():
    data = _minimal_json([_bench("bench_evaluation", "test_match_one_scannet_sized_scene",
                                 0.011)])
    del data["machine_info"]["folk"]
    text = report.render(data)
    assert "Some CPU, 2 logical CPUs" in text
    assert "| memory | ? |" in text


def test_report_runs_on_its_command_line(tmp_path, capsys):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(_minimal_json([
        _bench("bench_evaluation", "test_match_one_scannet_sized_scene", 0.011)])))
    assert report.main([str(path)]) == 0
    assert "| matching one scene" in capsys.readouterr().out


def test_slim_drops_raw_timings_and_cpu_flags():
    data = _minimal_json([_bench("bench_x", "test_y", 1.0)])
    data["benchmarks"][0]["stats"]["data"] = [1.0, 2.0]
    data["machine_info"]["cpu"]["flags"] = ["avx2"]
    slim = report.slim(data)
    assert "data" not in slim["benchmarks"][0]["stats"]
    assert "flags" not in slim["machine_info"]["cpu"]
    assert report.render(slim) == report.render(data)


def test_results_md_is_generated_from_the_committed_json():
    if not report.RESULTS_JSON.is_file():
        pytest.skip("benchmarks/results.json not written yet: run "
                    "`python benchmarks/report.py --run`")
    expected = report.render(json.loads(report.RESULTS_JSON.read_text()))
    assert report.RESULTS_MD.read_text() == expected, (
        "benchmarks/RESULTS.md differs from what benchmarks/report.py makes of "
        "benchmarks/results.json: regenerate it, do not edit it by hand")


def test_every_benchmark_has_a_place_in_the_report():
    """A benchmark renamed or added without a template would land in "Other benchmarks"."""
    import re

    source = (ROOT / "benchmarks" / "report.py").read_text(encoding="utf-8")
    names = [(path.name, name) for path in sorted((ROOT / "benchmarks").glob("bench_*.py"))
             for name in re.findall(r"^def (test_\w+)\(", path.read_text(encoding="utf-8"),
                                    flags=re.MULTILINE)]
    unknown = [f"{file}::{name}" for file, name in names
               if name not in source and name.removeprefix("test_") not in source]
    assert not unknown, f"benchmarks/report.py has no template for {unknown}"
