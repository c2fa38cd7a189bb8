#!/usr/bin/env bash
# Full test run: install the project with its test extras, bring up the Docker
# engine and the stand-in images (scripts/engine-up.sh), check lint (ruff) and types (mypy,
# configured in pyproject.toml), then run pytest.
# Extra arguments are passed to pytest, e.g.  bash scripts/test.sh tests/engine -x
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install -q -e '.[test]'
bash scripts/engine-up.sh
bash scripts/remote-tools.sh
bash scripts/swarm-tools.sh

# lint and types first (seconds): a style or type error fails the run before the long suite
python3 -m ruff check deployer bench
python3 -m mypy

rc=0
python3 -m pytest -q "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; treating that as a failure" >&2
fi
exit "$rc"
