"""benchmarks/report.py renders bench_runtime.py's numbers: the per-Q table, the ratios to the
memory floor and to PyTorch, the targets and the cold start, all computed from the JSON."""

from __future__ import annotations

from test_bench_report import _bench, _minimal_json, report

SIZES = {"points": 146_642, "feature_dim": 96, "hidden": 512, "text_dim": 768, "classes": 200}


def _runtime_json(session_150: float, end_to_end_150: float) -> dict:
    benches = [_bench("bench_runtime", "test_runtime_read_floor", 0.02, feature_bytes=56_310_528,
                      bandwidth_gb_s=20.0, floor_s=56_310_528 / 20e9)]
    for q, scale in ((150, 1.0), (600, 4.0)):
        info = dict(SIZES, proposals=q, kept=q - 4, kept_memberships=150_000 * int(scale))
        benches += [
            _bench("bench_runtime", f"test_runtime_torch_predict_scene[{q}]", 0.3 * scale, **info),
            _bench("bench_runtime", f"test_runtime_onnx_session[{q}]", session_150 * scale,
                   **info),
            _bench("bench_runtime", f"test_runtime_end_to_end[{q}]", end_to_end_150 * scale,
                   **info)]
    benches += [
        _bench("bench_runtime", "test_runtime_cold_start", 0.5, inside_process_s=0.4,
               torch_imported=False),
        _bench("bench_runtime", "test_runtime_cold_start_torch", 3.0, inside_process_s=2.5,
               torch_imported=True)]
    return _minimal_json(benches)


def test_runtime_section_shows_times_ratios_and_cold_start():
    text = report.render(_runtime_json(session_150=0.0112, end_to_end_150=0.0150))
    assert "## Deployment runtime (`bench_runtime.py`)" in text
    assert "| step | Q = 150 | Q = 600 |" in text
    assert "| proposals kept by NMS, memberships (point, proposal) they hold | 146, 150,000 | " \
           "596, 600,000 |" in text
    floor = 56_310_528 / 20e9  # 2.82 ms
    assert "(56.3 MB at 20.0 GB/s" in text and f"| {report.fmt_time(floor)} |" in text
    assert f"| session / floor | {report.fmt_ratio(0.0112, floor)} | " \
           f"{report.fmt_ratio(0.0448, floor)} |" in text
    assert f"| speed-up of the runtime over PyTorch eager | {report.fmt_ratio(0.3, 0.015)} |" \
        in text
    assert "| folk_runtime + the deployment folder | 500 ms | 400 ms | no |" in text
    assert "| folk + PyTorch + the checkpoint | 3.00 s | 2.50 s | yes |" in text
    assert f"{report.fmt_ratio(3.0, 0.5)} faster" in text
    assert "`bench_runtime.py`" not in text.split("## Not in this run")[-1]


def test_runtime_targets_say_met_or_not_met():
    floor = 56_310_528 / 20e9
    met = report.render(_runtime_json(session_150=1.5 * floor, end_to_end_150=0.012))
    assert "(met); the runtime end to end ≤ 15.0 ms — 12.0 ms (met)" in met
    missed = report.render(_runtime_json(session_150=3 * floor, end_to_end_150=0.030))
    assert missed.count("**not met**") == 2
