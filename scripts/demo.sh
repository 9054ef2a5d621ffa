#!/usr/bin/env bash
# `make demo`: a demo project from Debian's WordPress tree, served locally through the Lambda
# handler with `wplambda serve --install` (WordPress installed on first run, admin credentials
# printed once). Ctrl-C stops everything; running it again keeps the site's data.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-demo}"
port="${PORT:-8080}"
wp=.venv/bin/wplambda
# init writes build.wp_cli = "pinned": wp-cli 2.12.0, downloaded once from GitHub. A checkout beside
# ../shared/ (the kit's offline build machine) uses the wp-cli.phar there instead, so the demo and
# its `wplambda wp --local` need no internet; the build says so when it does.
shared_wp_cli="$(dirname "$PWD")/shared/wp-cli/wp-cli.phar"
if [ -z "${WPLAMBDA_WP_CLI_PHAR:-}" ] && [ -f "$shared_wp_cli" ]; then
  export WPLAMBDA_WP_CLI_PHAR="$shared_wp_cli"
fi
# Stop before anything starts when a prerequisite is missing: doctor names each one with its fix.
"$wp" doctor || { echo "demo: fix what doctor reports above, then run make demo again" >&2; exit 1; }
if [ ! -f "$dir/wplambda.toml" ]; then
  "$wp" init "$dir" --yes --name demo --wordpress-source /usr/share/wordpress
fi
"$wp" validate --project "$dir"
exec "$wp" serve --project "$dir" --port "$port" --install
