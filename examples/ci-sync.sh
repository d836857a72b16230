#!/usr/bin/env bash
# One incremental GoKart offers sync for a CI job (docs/gokart.md, "Running in CI").
#
#   GOKART_API_TOKEN   required: the Partner API token, from the CI secret store
#   GOKART_TENANT      the tenant (offers are read from https://api.<tenant>.getgokart.ai), or
#   GOKART_API_URL     a full base URL instead (a proxy; http only to 127.0.0.1/localhost)
#   GOKART_START_DATE  optional start_date, e.g. 2024-01-01T00:00:00Z
#   GOKART_IMAGE       run this Docker image, e.g. gokart-connectors/source-gokart-offers:0.1.0;
#                      unset: run GOKART_MAIN (default: bin/main of this repository)
#   SYNC_DIR           folder kept between runs (default: gokart-sync)
#
# Writes SYNC_DIR/output.jsonl (every Airbyte message of this run; records are the
# lines with "type":"RECORD") and, only when the sync succeeded, replaces
# SYNC_DIR/state.json, which the next run passes with --state.
# Exit status: 0 success; 1 sync failed (state.json unchanged); 2 missing settings.
set -euo pipefail

if [[ -z "${GOKART_API_TOKEN:-}" ]]; then
  echo "ci-sync: set GOKART_API_TOKEN (from your CI secrets)" >&2
  exit 2
fi
if [[ -z "${GOKART_TENANT:-}" && -z "${GOKART_API_URL:-}" ]]; then
  echo "ci-sync: set GOKART_TENANT (or GOKART_API_URL)" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
umask 077 # the config holds the token; output and state are private too
sync_dir=${SYNC_DIR:-gokart-sync}
mkdir -p "$sync_dir"
sync_dir=$(cd "$sync_dir" && pwd)
run_dir=$(mktemp -d) # config, catalog and the state copy: never uploaded with SYNC_DIR
trap 'rm -rf "$run_dir"' EXIT

# The token goes through the environment, never the command line.
node -e '
  const e = process.env;
  const config = { api_token: e.GOKART_API_TOKEN };
  if (e.GOKART_TENANT) config.tenant = e.GOKART_TENANT;
  if (e.GOKART_API_URL) config.api_url = e.GOKART_API_URL;
  if (e.GOKART_START_DATE) config.start_date = e.GOKART_START_DATE;
  process.stdout.write(JSON.stringify(config));
' >"$run_dir/config.json"

cat >"$run_dir/catalog.json" <<'JSON'
{
  "streams": [
    {
      "stream": {
        "name": "offers",
        "json_schema": {},
        "supported_sync_modes": ["full_refresh", "incremental"],
        "source_defined_cursor": true,
        "default_cursor_field": ["launchDate"],
        "source_defined_primary_key": [["id"]]
      },
      "sync_mode": "incremental",
      "cursor_field": ["launchDate"],
      "destination_sync_mode": "append_dedup",
      "primary_key": [["id"]]
    }
  ]
}
JSON

args=(read --config "$run_dir/config.json" --catalog "$run_dir/catalog.json")
if [[ -s "$sync_dir/state.json" ]]; then
  cp "$sync_dir/state.json" "$run_dir/state.json"
  args+=(--state "$run_dir/state.json")
fi

if [[ -n "${GOKART_IMAGE:-}" ]]; then
  # Same uid as this job, so the container can read the private files; mounted read-only.
  connector=(docker run --rm --user "$(id -u):$(id -g)" -v "$run_dir:$run_dir:ro" "$GOKART_IMAGE")
else
  read -r -a connector <<<"${GOKART_MAIN:-$here/../bin/main}"
fi

status=0
"${connector[@]}" "${args[@]}" >"$sync_dir/output.jsonl" || status=$?

# The next --state is the list of per-stream states: [.state] of the last STATE message.
# jq equivalent: jq -c 'select(.type == "STATE") | .state' output.jsonl | tail -n 1 | jq -c '[.]'
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const fs = require("fs");
  const readline = require("readline");
  const [output, next, status] = process.argv.slice(1);
  (async () => {
    let state;
    let records = 0;
    for await (const line of readline.createInterface({ input: fs.createReadStream(output) })) {
      if (line.startsWith("{\"type\":\"RECORD\"")) { records++; continue; }
      if (!line.startsWith("{")) continue;
      const m = JSON.parse(line);
      if (m.type === "STATE") state = m.state;
      if (m.type === "TRACE" && m.trace.type === "ERROR") console.error(`ci-sync: ${m.trace.error.message}`);
    }
    if (status !== "0" || !state) {
      console.error(`ci-sync: sync failed (exit ${status}, ${records} records); state.json kept`);
      process.exit(1);
    }
    fs.writeFileSync(next, JSON.stringify([state]) + "\n");
    console.error(`ci-sync: ${records} records; cursor ${JSON.stringify(state.stream.stream_state)}`);
  })();
' "$sync_dir/output.jsonl" "$sync_dir/state.json.next" "$status"
mv "$sync_dir/state.json.next" "$sync_dir/state.json"
