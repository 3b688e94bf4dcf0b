#!/usr/bin/env bash
# Run `ansible-test sanity` on a fresh copy of the collection.
#
# ansible-test wants the collection at .../ansible_collections/<namespace>/<name>/.
# The copy (.ci/export-tree.sh) holds the files git would commit: tracked plus
# untracked-but-not-ignored, minus deleted ones. It gets its own `git init`:
# without a .git of its own, ansible-test walks up to the repository's .git,
# where .tmp/ is ignored, sees no files and "passes" with "All targets skipped".
# No commit is needed: ansible-test lists files with
# `git ls-files --cached --others --exclude-standard`.
#
# Usage: tests/sanity/run.sh [extra ansible-test sanity arguments, e.g. --test pep8]
# Environment: VENV (default <repo>/.venv), SANITY_PYTHON (default 3.11).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${VENV:-$repo/.venv}
python_version=${SANITY_PYTHON:-3.11}

cd "$repo"
read -r namespace name < <("$venv/bin/python" -c '
import yaml
with open("galaxy.yml") as handle:
    meta = yaml.safe_load(handle)
print(meta["namespace"], meta["name"])
')

# ignore-*.txt files must stay empty: fix the finding instead of ignoring it.
for ignore in tests/sanity/ignore-*.txt; do
    if [[ -s $ignore ]]; then
        echo "ERROR: $ignore is not empty; fix the findings instead of ignoring them" >&2
        exit 1
    fi
done

work=$repo/.tmp/sanity
dest=$work/ansible_collections/$namespace/$name
rm -rf "$work"
"$repo/.ci/export-tree.sh" "$dest"
if [[ ! -f $dest/galaxy.yml ]]; then
    echo "ERROR: nothing was copied to $dest" >&2
    exit 1
fi

git -C "$dest" init -q

# ansible-test's pip bootstrap (see tests/sanity/pip_bootstrap.py).
"$venv/bin/python" "$repo/tests/sanity/pip_bootstrap.py" "$python_version"

cd "$dest"
export PATH="$venv/bin:$PATH"
exec "$venv/bin/ansible-test" sanity --local --python "$python_version" --requirements --color no "$@"
