"""The compiled extensions: folk._C always importable; folk._cuda never needed to import folk."""

from __future__ import annotations

import subprocess
import sys

import pytest

from folk.errors import FolkExtensionError
from folk.ops import extensions


def test_cpu_extension_is_built_and_reports_openmp_threads():
    assert extensions.cpu_extension().openmp_max_threads() >= 1


def test_importing_folk_loads_no_extension_and_no_torch():
    code = ("import sys, folk, folk.data; "
            "print(any(m in sys.modules for m in ('folk._C', 'folk._cuda', 'torch')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(extensions.cuda_available(), reason="a GPU is visible here")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(FolkExtensionError, match="no CUDA GPU is visible|not built"):
        extensions.cuda_extension()


def test_cuda_extension_builds_wherever_nvcc_exists():
    import shutil

    if shutil.which("nvcc") is None:
        pytest.skip("no nvcc on this machine: folk._cuda is not expected to be built")
    assert extensions.cuda_built(), "nvcc exists but folk._cuda was not built"
