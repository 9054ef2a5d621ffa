#!/usr/bin/env bash
# `make demo`: a demo project from Debian's WordPress tree, served locally through the Lambda
# handler with `wplambda serve --install` (WordPress installed on first run, admin credentials
# printed once). Ctrl-C stops everything; running it again keeps the site's data.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-demo}"
port="${PORT:-8080}"
wp=.venv/bin/wplambda
# Stop before anything starts when a prerequisite is missing: doctor names each one with its fix.
"$wp" doctor || { echo "demo: fix what doctor reports above, then run make demo again" >&2; exit 1; }
if [ ! -f "$dir/wplambda.toml" ]; then
  "$wp" init "$dir" --yes --name demo --wordpress-source /usr/share/wordpress
fi
"$wp" validate --project "$dir"
exec "$wp" serve --project "$dir" --port "$port" --install
