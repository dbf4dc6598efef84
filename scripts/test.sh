#!/usr/bin/env bash
# One command on a fresh machine: set up folk in .venv/ and run the test suite (CI runs this).
# Slow tests are deselected unless FOLK_SLOW=1; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
marker=(-m "not slow")
if [ "${FOLK_SLOW:-0}" = 1 ]; then marker=(); fi
exec .venv/bin/python -m pytest tests "${marker[@]}" -p no:dash -p no:cacheprovider "$@"
