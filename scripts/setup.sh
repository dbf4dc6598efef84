#!/usr/bin/env bash
# Set up folk on a fresh machine: Debian packages, a virtual environment at .venv/ in the repo
# root, torch, and folk itself (compiling folk._C, and folk._cuda where nvcc exists).
# Idempotent: a second run reuses .venv and only rebuilds folk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Open3D (open3d-cpu) needs libusb-1.0 at import time.
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  echo "== installing Debian package libusb-1.0-0"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
fi

# The browser test of `folk view` (tests/test_viewer_browser.py) needs a headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian package chromium (for the browser test of folk view)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null

# torch first, at the versions in constraints.txt (the CUDA build runs on the CPU too);
# torchvision must match it or `import open_clip` fails. Every later install keeps to the same
# constraints, so nothing replaces them.
torch_version=$(sed -n 's/^torch==//p' constraints.txt)
if ! .venv/bin/python -c 'import sys, torch, torchvision; sys.exit(torch.__version__.split("+")[0] != sys.argv[1])' "$torch_version" 2>/dev/null; then
  echo "== installing torch and torchvision (constraints.txt: torch $torch_version)"
  "${pip[@]}" install -c constraints.txt torch torchvision
fi

echo "== installing folk (builds the C++/CUDA extensions)"
"${pip[@]}" install "scikit-build-core>=0.10" "pybind11>=2.12" "cmake>=3.24" ninja
"${pip[@]}" install --no-build-isolation -c constraints.txt ".[dev]"
.venv/bin/python - <<'PY'
import folk
from folk.ops.extensions import cpu_extension, cuda_built, cuda_available
cpu_extension()
print(f"== folk {folk.__version__}: folk._C ok, folk._cuda built={cuda_built()}, "
      f"GPU usable={cuda_available()}")
PY
