#!/usr/bin/env bash
# One command on a fresh machine: set up folk in .venv/ and run the demo end to end on an
# embedded synthetic scene. Extra arguments go to `folk demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/folk demo "$@"
