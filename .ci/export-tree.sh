#!/usr/bin/env bash
# Copy the files git would commit (tracked plus untracked-but-not-ignored, minus
# tracked files deleted from the work tree) into DEST, which is emptied first.
# Usage: .ci/export-tree.sh DEST
set -euo pipefail

if (($# != 1)) || [[ -z $1 ]]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

rm -rf "$dest"
mkdir -p "$dest"
cd "$repo"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' path; do
        if [[ -e $path || -L $path ]]; then
            printf '%s\0' "$path"
        fi
    done |
    tar --null --no-recursion -T - -cf - |
    tar -xf - -C "$dest"
