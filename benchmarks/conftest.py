"""Benchmark-session setup: record the machine in pytest-benchmark's JSON.

pytest-benchmark stores the CPU and Python it saw; ``benchmarks/report.py`` also needs the
memory, the GPU, the library versions and how loaded the machine was, so that
benchmarks/RESULTS.md can say where its numbers come from without anyone typing it.
"""

from __future__ import annotations

import os
import platform

_LOAD_AT_START: list[float] | None = None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def folk_machine_info() -> dict:
    """What benchmarks/report.py writes in the header of RESULTS.md."""
    import numpy

    info: dict = {"cpu_model": _cpu_model(), "logical_cpus": os.cpu_count(),
                  "memory_gib": _memory_gib(), "numpy": numpy.__version__}
    info["load_average_start"] = _LOAD_AT_START  # 1, 5, 15 min: were other jobs running?
    info["load_average_end"] = _load_average()
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info.update(torch=None, torch_threads=None, gpu=None)
    try:
        import folk
        from folk.ops.extensions import cpu_extension, cuda_available, cuda_built

        info["folk"] = folk.__version__
        info["openmp_threads"] = cpu_extension().openmp_max_threads()
        info["folk_cuda_built"] = bool(cuda_built())
        info["folk_cuda_usable"] = bool(cuda_available())
    except Exception as exc:  # noqa: BLE001 - a broken build still gets its machine recorded
        info["folk"] = f"unavailable ({exc.__class__.__name__})"
    return info


def pytest_sessionstart(session):
    global _LOAD_AT_START
    _LOAD_AT_START = _load_average()


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["folk"] = folk_machine_info()
