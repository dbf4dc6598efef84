#!/usr/bin/env bash
# One command on a fresh machine: set up folk in .venv/ and run the test suite (CI runs this).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest tests -p no:dash -p no:cacheprovider "$@"
