#!/usr/bin/env bash
# One incremental GoKart offers sync for a CI job (docs/gokart.md, "Running in CI").
#
# Environment (everything this script reads):
#   GOKART_API_TOKEN   required: the Partner API token, from the CI secret store
#   GOKART_TENANT      the tenant (offers are read from https://api.<tenant>.getgokart.ai), or
#   GOKART_API_URL     a full base URL instead (a proxy; http only to 127.0.0.1/localhost)
#   GOKART_START_DATE  optional start_date, e.g. 2024-01-01T00:00:00Z
#   GOKART_IMAGE       run this Docker image, e.g. gokart-connectors/source-gokart-offers:0.1.0
#   GOKART_MAIN        without GOKART_IMAGE: the connector command (default: bin/main of this repository)
#   SYNC_DIR           folder kept between runs (default: gokart-sync)
#   TMPDIR             where the run's private config and catalog are written (default /tmp)
#
# On success, replaces in SYNC_DIR: output.jsonl (every Airbyte message of the run),
# offers.jsonl (one offer per line: the records' data) and state.json (the next run's --state).
# On failure none of them changes: the last good output stays, and the next run starts again
# from the same state.
# Exit status: 0 success; 1 sync failed; 2 missing settings.
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
trap 'rm -rf "$run_dir" "${out_dir:-}"' EXIT
# This run's output, beside its final place so that moving it there is a rename.
out_dir=$(mktemp -d "$sync_dir/.partial.XXXXXX")

# The token goes through the environment, never the command line.
node -e '
  const e = process.env;
  const config = { api_token: e.GOKART_API_TOKEN };
  if (e.GOKART_TENANT) config.tenant = e.GOKART_TENANT;
  if (e.GOKART_API_URL) config.api_url = e.GOKART_API_URL;
  if (e.GOKART_START_DATE) config.start_date = e.GOKART_START_DATE;
  process.stdout.write(JSON.stringify(config));
' >"$run_dir/config.json"
cp "$here/../samples/catalog_incremental.json" "$run_dir/catalog.json"

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
"${connector[@]}" "${args[@]}" >"$out_dir/output.jsonl" || status=$?

# offers.jsonl: the records' data. The next --state: [.state] of the last STATE message.
# jq equivalent: jq -c 'select(.type == "RECORD") | .record.data' output.jsonl > offers.jsonl
#                jq -c 'select(.type == "STATE") | [.state]' output.jsonl | tail -n 1 > state.json
# shellcheck disable=SC2016 # JavaScript, not shell
node -e '
  const fs = require("fs");
  const readline = require("readline");
  const { once } = require("events");
  const [dir, status] = process.argv.slice(1);
  (async () => {
    const offers = fs.createWriteStream(`${dir}/offers.jsonl`);
    let state;
    let records = 0;
    let broken = 0;
    for await (const line of readline.createInterface({ input: fs.createReadStream(`${dir}/output.jsonl`) })) {
      if (!line.startsWith("{")) continue;
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        broken++;
        continue;
      }
      if (m.type === "RECORD") {
        records++;
        if (!offers.write(JSON.stringify(m.record.data) + "\n")) await once(offers, "drain");
      } else if (m.type === "STATE") state = m.state;
      else if (m.type === "TRACE" && m.trace.type === "ERROR") console.error(`ci-sync: ${m.trace.error.message}`);
    }
    offers.end();
    await once(offers, "finish");
    if (status !== "0" || !state || broken) {
      const why = broken ? `${broken} lines not JSON` : `exit ${status}`;
      console.error(`ci-sync: sync failed (${why}, ${records} records); the last good output and state.json are kept`);
      process.exit(1);
    }
    fs.writeFileSync(`${dir}/state.json.next`, JSON.stringify([state]) + "\n");
    console.error(`ci-sync: ${records} records; cursor ${JSON.stringify(state.stream.stream_state)}`);
  })();
' "$out_dir" "$status"
# Only a complete run gets here. The state moves last: if the job dies in between, the next
# run reads again from the previous state, and nothing is skipped.
mv "$out_dir/output.jsonl" "$out_dir/offers.jsonl" "$sync_dir/"
mv "$out_dir/state.json.next" "$sync_dir/state.json"
