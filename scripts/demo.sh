#!/usr/bin/env bash
# `make demo`: a demo project from Debian's WordPress tree, rendered and validated offline,
# then a summary of what `wplambda deploy` would create.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-demo}"
wp=.venv/bin/wplambda
if [ ! -f "$dir/wplambda.toml" ]; then
  "$wp" init "$dir" --yes --name demo --wordpress-source /usr/share/wordpress
fi
"$wp" render --project "$dir"
"$wp" validate --project "$dir"
"$wp" validate --project "$dir" --json
