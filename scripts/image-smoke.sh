#!/usr/bin/env bash
# Image smoke test without a Docker engine (none runs on our machines).
#
# Replays the Dockerfile's COPY and RUN steps, stage by stage, in temporary folders
# (the build context filtered by .dockerignore), then runs the runtime stage's
# ENTRYPOINT, from its WORKDIR and with its ENV, and compares it with bin/main from
# the source tree: spec, check and discover byte for byte, a full read against the
# bundled simulator on records and state. It also checks the image contract
# (AIRBYTE_ENTRYPOINT, labels = package.json = metadata.yaml, USER node, Node LTS
# alpine base, no dev-only packages, musl builds of native packages), that
# acceptance-test-config.yml names only existing files, and runs examples/ci-sync.sh
# twice against the image folder (full, then incremental from the carried state).
#
# Not covered: the base image itself. The replay runs on this machine's Node.js and
# glibc, not on node:XX-alpine's.
#
# Usage: bash scripts/image-smoke.sh   (KEEP_SMOKE_DIR=1 keeps the temporary folder)
set -Eeuo pipefail
trap 'echo "image-smoke: FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
STARTED=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/image-smoke.XXXXXX")
SIM_PID=""

cleanup() {
  if [[ -n $SIM_PID ]]; then
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
  fi
  if [[ -n ${KEEP_SMOKE_DIR:-} ]]; then echo "image-smoke: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say() { echo "image-smoke: [$((SECONDS - STARTED))s] $*"; }
fail() {
  echo "image-smoke: FAIL: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# 1. Parse the Dockerfile into a plan: one shell-quoted call per instruction.
# ---------------------------------------------------------------------------
node - "$ROOT/Dockerfile" >"$WORK/plan.sh" <<'JS' || fail "cannot replay the Dockerfile (above)"
const fs = require('fs');
const file = process.argv[2];
const die = (line, msg) => {
  console.error(`Dockerfile:${line}: ${msg}`);
  process.exit(1);
};
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

// Logical lines: comments dropped, backslash continuations joined.
const logical = [];
let buf = '';
let start = 0;
fs.readFileSync(file, 'utf8')
  .split('\n')
  .forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!buf && /^\s*(#|$)/.test(line)) return;
    if (buf && /^\s*#/.test(line)) return; // comment inside a continuation
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, ' ');
      return;
    }
    logical.push({ no: start, text: (buf + line).trim() });
    buf = '';
  });
if (buf) die(start, 'continuation at end of file');

/** Splits on blanks outside quotes; keeps quotes (unquote() removes them). */
function words(s) {
  const out = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = '';
    } else if (/\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
    } else {
      if (c === '"' || c === "'") quote = c;
      cur += c;
    }
  }
  if (quote) throw new Error('unterminated quote');
  if (cur) out.push(cur);
  return out;
}
function unquote(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) out += s[i] === '\\' ? s[++i] : s[i];
    } else if (c === "'") {
      for (i++; i < s.length && s[i] !== "'"; i++) out += s[i];
    } else out += c === '\\' ? s[++i] : c;
  }
  return out;
}
function noVars(no, value) {
  if (/\$/.test(value)) die(no, `variables are not replayed: ${value}`);
  return value;
}
function pairs(no, args, legacyAllowed) {
  const ws = words(args);
  if (legacyAllowed && ws.length && !ws[0].includes('=')) {
    return [[ws[0], noVars(no, unquote(args.slice(args.indexOf(ws[0]) + ws[0].length).trim()))]];
  }
  return ws.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) die(no, `expected key=value, got ${w}`);
    return [unquote(w.slice(0, eq)), noVars(no, unquote(w.slice(eq + 1)))];
  });
}
function flags(ws) {
  const out = {};
  while (ws.length && ws[0].startsWith('--')) {
    const [k, ...v] = ws.shift().slice(2).split('=');
    out[k] = v.join('=');
  }
  return out;
}
const jsonArray = (no, s) => {
  try {
    const a = JSON.parse(s);
    if (Array.isArray(a) && a.length && a.every((x) => typeof x === 'string')) return a;
  } catch {}
  return die(no, `expected a JSON array of strings (exec form): ${s}`);
};

const plan = [];
for (const { no, text } of logical) {
  const m = /^(\w+)\s*(.*)$/s.exec(text);
  const op = m[1].toUpperCase();
  const args = m[2];
  try {
    switch (op) {
      case 'FROM': {
        const ws = words(args);
        const f = flags(ws);
        if (f.platform !== undefined) plan.push(`df_note ${q(`FROM --platform=${f.platform}`)}`);
        const name = ws.length === 3 && ws[1].toUpperCase() === 'AS' ? ws[2] : '';
        if (ws.length !== 1 && !name) die(no, `cannot read FROM ${args}`);
        plan.push(`df_from ${q(noVars(no, ws[0]))} ${q(name)}`);
        break;
      }
      case 'WORKDIR':
        plan.push(`df_workdir ${q(noVars(no, unquote(args.trim())))}`);
        break;
      case 'COPY': {
        const ws = words(args);
        const f = flags(ws);
        const rest = ws.join(' ');
        const paths = rest.startsWith('[') ? jsonArray(no, rest) : ws.map(unquote);
        if (paths.length < 2) die(no, 'COPY needs a source and a destination');
        paths.forEach((p) => noVars(no, p));
        if (f.chown !== undefined || f.chmod !== undefined)
          plan.push(`df_note ${q(`COPY --chown/--chmod not replayed (line ${no})`)}`);
        plan.push(`df_copy ${q(f.from ?? '')} ${paths.map(q).join(' ')}`);
        break;
      }
      case 'RUN': {
        const ws = words(args);
        const f = flags(ws);
        if (Object.keys(f).length)
          plan.push(`df_note ${q(`RUN ${Object.keys(f).map((k) => `--${k}`).join(' ')} ignored (line ${no})`)}`);
        const cmd = args.replace(/^(\s*--\S+)+\s*/, '');
        if (cmd.startsWith('[')) plan.push(`df_run_exec ${jsonArray(no, cmd).map(q).join(' ')}`);
        else plan.push(`df_run_shell ${q(cmd)}`);
        break;
      }
      case 'ENV':
        for (const [k, v] of pairs(no, args, true)) plan.push(`df_env ${q(k)} ${q(v)}`);
        break;
      case 'LABEL':
        for (const [k, v] of pairs(no, args, false)) plan.push(`df_label ${q(k)} ${q(v)}`);
        break;
      case 'USER':
        plan.push(`df_user ${q(noVars(no, args.trim()))}`);
        break;
      case 'ENTRYPOINT':
        plan.push(`df_entrypoint ${jsonArray(no, args.trim()).map(q).join(' ')}`);
        break;
      default:
        die(no, `${op} is not replayed by scripts/image-smoke.sh (supported: FROM WORKDIR COPY RUN ENV LABEL USER ENTRYPOINT)`);
    }
  } catch (err) {
    die(no, err.message);
  }
}
console.log(plan.join('\n'));
JS

# ---------------------------------------------------------------------------
# 2. The build context: the working tree less what .dockerignore excludes
#    (Docker's rules: patterns anchored at the root, ** for any depth, ! re-includes,
#    the last matching pattern wins, a pattern matching a folder excludes its contents).
# ---------------------------------------------------------------------------
IGNORE_JS=$(
  cat <<'JS'
const fs = require('fs');
const path = require('path');
function loadIgnore(root) {
  const file = path.join(root, '.dockerignore');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  return lines
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = path.posix.normalize(l.replace(/^!/, '').trim()).replace(/^\/+|\/+$/g, '');
      let re = '';
      for (let i = 0; i < pat.length; i++) {
        const c = pat[i];
        if (c === '*' && pat[i + 1] === '*') {
          i++;
          if (pat[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else if (c === '[') {
          const end = pat.indexOf(']', i);
          re += end > i ? pat.slice(i, end + 1).replace('[!', '[^') : '\\[';
          if (end > i) i = end;
        } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
}
function ignored(rules, rel) {
  const parts = rel.split('/');
  let out = false;
  for (const { negate, re } of rules) {
    for (let n = 1; n <= parts.length; n++) {
      if (re.test(parts.slice(0, n).join('/'))) {
        out = !negate;
        break;
      }
    }
  }
  return out;
}
JS
)

node - "$ROOT" >"$WORK/context.list" <<JS || fail "build context (above)"
$IGNORE_JS
const root = process.argv[2];
const rules = loadIgnore(root);
const prune = !rules.some((r) => r.negate);
const must = ['node_modules/x/index.js', 'secrets/config.json', 'coverage/lcov.info', '.git/HEAD'];
const leaks = must.filter((p) => !ignored(rules, p));
if (leaks.length) {
  console.error('.dockerignore does not exclude: ' + leaks.join(', '));
  process.exit(1);
}
(function walk(rel) {
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? rel + '/' + e.name : e.name;
    const skip = ignored(rules, p);
    if (e.isDirectory()) {
      if (!(skip && prune)) walk(p);
    } else if (!skip) process.stdout.write(p + '\0');
  }
})('');
JS
mkdir -p "$WORK/context"
tar -C "$ROOT" --null -T "$WORK/context.list" -cf - | tar -C "$WORK/context" -xf -
say "build context: $(tr -cd '\0' <"$WORK/context.list" | wc -c) files after .dockerignore"

# ---------------------------------------------------------------------------
# 3. Replay functions. A dry pass (DRY=1) only collects ENV, LABEL, USER and
#    ENTRYPOINT, so the contract is checked before the slow steps run.
# ---------------------------------------------------------------------------
declare -A STAGE_ROOT=() CUR_ENVMAP=() LABELS=()
reset_stage() { # what each FROM starts afresh
  CUR_WD=/
  CUR_USER=root
  CUR_ENV=()
  CUR_ENVMAP=()
  LABELS=()
  ENTRY=()
}
reset_replay() {
  STAGE_ROOT=()
  STAGES=0
  CUR_ROOT=""
  BASES=()
  reset_stage
}

abs_dir() { # resolves a WORKDIR or COPY destination against the current WORKDIR
  local p=$1
  [[ $p == /* ]] || p="$CUR_WD/$p"
  node -e 'process.stdout.write(require("path").posix.normalize(process.argv[1]))' "$p"
}
df_note() { [[ $DRY == 1 ]] || say "note: $1"; }
df_from() {
  local image=$1 name=$2
  CUR_ROOT="$WORK/stage$STAGES"
  [[ $DRY == 0 ]] || CUR_ROOT="$WORK/dry-stage$STAGES"
  mkdir -p "$CUR_ROOT"
  if [[ -n ${STAGE_ROOT[$image]:-} ]]; then
    cp -a "${STAGE_ROOT[$image]}/." "$CUR_ROOT/"
  else
    BASES+=("$image")
  fi
  STAGE_ROOT[$STAGES]=$CUR_ROOT
  [[ -z $name ]] || STAGE_ROOT[$name]=$CUR_ROOT
  STAGES=$((STAGES + 1))
  reset_stage
  [[ $DRY == 1 ]] || say "stage ${name:-$((STAGES - 1))} FROM $image"
}
df_workdir() {
  CUR_WD=$(abs_dir "$1")
  mkdir -p "$CUR_ROOT$CUR_WD"
}
df_copy() {
  [[ $DRY == 0 ]] || return 0
  local from=$1
  shift
  local dest=${*: -1}
  local srcs=("${@:1:$#-1}")
  local src_root="$WORK/context"
  if [[ -n $from ]]; then
    src_root=${STAGE_ROOT[$from]:-}
    [[ -n $src_root ]] || fail "COPY --from=$from: no such stage"
  fi
  local as_dir=0
  [[ $dest == */ || ${#srcs[@]} -gt 1 ]] && as_dir=1
  local target
  target="$CUR_ROOT$(abs_dir "$dest")"
  local matches=() src m
  for src in "${srcs[@]}"; do
    local found=()
    shopt -s nullglob dotglob
    # shellcheck disable=SC2206 # the source is a glob on purpose
    found=("$src_root"/${src#/})
    shopt -u nullglob dotglob
    [[ ${#found[@]} != 1 || -e ${found[0]} ]] || found=()
    ((${#found[@]})) || fail "COPY ${from:+--from=$from }$src: not found (in the build context after .dockerignore?)"
    matches+=("${found[@]}")
  done
  ((${#matches[@]} > 1)) && as_dir=1
  for m in "${matches[@]}"; do
    if [[ -d $m ]]; then
      mkdir -p "$target"
      cp -a "$m/." "$target/"
    elif ((as_dir)) || [[ -d $target ]]; then
      mkdir -p "$target"
      cp -a "$m" "$target/"
    else
      mkdir -p "$(dirname "$target")"
      cp -a "$m" "$target"
    fi
  done
}
RUN_NO=0
run_step() { # label, command...
  [[ $DRY == 0 ]] || return 0
  local label=$1
  shift
  RUN_NO=$((RUN_NO + 1))
  local log="$WORK/run$RUN_NO.log" t=$SECONDS
  if ! (cd "$CUR_ROOT$CUR_WD" && env "${CUR_ENV[@]}" "$@") >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    fail "RUN $label (in $CUR_WD)"
  fi
  say "RUN $label ($((SECONDS - t))s)"
}
df_run_shell() { run_step "$1" sh -c "$1"; }
df_run_exec() { run_step "$*" "$@"; }
df_env() {
  CUR_ENV+=("$1=$2")
  CUR_ENVMAP[$1]=$2
}
df_label() { LABELS[$1]=$2; }
df_user() { CUR_USER=$1; }
df_entrypoint() { ENTRY=("$@"); }

# ---------------------------------------------------------------------------
# 4. The contract: base image, entrypoint, user, labels, metadata, CAT config.
# ---------------------------------------------------------------------------
DRY=1
reset_replay
# shellcheck disable=SC1091 # generated above
source "$WORK/plan.sh"
((STAGES > 0)) || fail "Dockerfile has no FROM"
yaml_value() { # key file: the first "key: value" (quotes and comments removed)
  sed -n -E "s/^[[:space:]]*$1:[[:space:]]*[\"']?([^\"'#]*[^\"'# ])[\"']?[[:space:]]*(#.*)?\$/\1/p" "$2" | head -n 1
}
PKG_VERSION=$(node -p 'require("./package.json").version')
META_TAG=$(yaml_value dockerImageTag metadata.yaml)
META_REPO=$(yaml_value dockerRepository metadata.yaml)
META_TYPE=$(yaml_value connectorType metadata.yaml)
META_DOCS=$(yaml_value documentationUrl metadata.yaml)
META_ICON=$(yaml_value icon metadata.yaml)

for base in "${BASES[@]}"; do
  [[ $base =~ ^node:([0-9]+)[^@]*-alpine[0-9.]*(@sha256:[0-9a-f]{64})?$ ]] ||
    fail "FROM $base: expected node:<LTS major>-alpine"
  major=${BASH_REMATCH[1]}
  ((major >= 22 && major % 2 == 0)) || fail "FROM $base: Node $major is not a current LTS line (even, >= 22)"
done
((${#ENTRY[@]})) || fail "the runtime stage has no ENTRYPOINT"
[[ ${CUR_ENVMAP[AIRBYTE_ENTRYPOINT]:-} == "${ENTRY[*]}" ]] ||
  fail "ENV AIRBYTE_ENTRYPOINT='${CUR_ENVMAP[AIRBYTE_ENTRYPOINT]:-}' differs from ENTRYPOINT joined by spaces '${ENTRY[*]}'"
[[ $CUR_USER == node ]] || fail "the runtime stage runs as '$CUR_USER', not USER node"
[[ ${LABELS[io.airbyte.version]:-} == "$PKG_VERSION" ]] ||
  fail "LABEL io.airbyte.version='${LABELS[io.airbyte.version]:-}' but package.json version is $PKG_VERSION"
[[ $META_TAG == "$PKG_VERSION" ]] || fail "metadata.yaml dockerImageTag '$META_TAG' != package.json version $PKG_VERSION"
[[ -n $META_REPO && ${LABELS[io.airbyte.name]:-} == "$META_REPO" ]] ||
  fail "LABEL io.airbyte.name='${LABELS[io.airbyte.name]:-}' != metadata.yaml dockerRepository '$META_REPO'"
[[ $META_TYPE == source ]] || fail "metadata.yaml connectorType '$META_TYPE' is not source"
[[ -n $META_ICON && -f $META_ICON ]] || fail "metadata.yaml icon '$META_ICON' does not exist"
if [[ $META_DOCS =~ /blob/[^/]+/(.+)$ ]]; then
  [[ -f ${BASH_REMATCH[1]} ]] || fail "metadata.yaml documentationUrl names ${BASH_REMATCH[1]}, which does not exist"
else
  fail "metadata.yaml documentationUrl '$META_DOCS' does not point at a file of this repository"
fi
SPEC_DOCS=$(node -p 'require("./resources/spec.json").documentationUrl')
[[ $SPEC_DOCS == "$META_DOCS" ]] || say "note: resources/spec.json documentationUrl $SPEC_DOCS differs from metadata.yaml's $META_DOCS"

# acceptance-test-config.yml: every path exists; secrets/ only if git- and docker-ignored.
node - "$ROOT" <<JS || fail "acceptance-test-config.yml (above)"
$IGNORE_JS
const root = process.argv[2];
const { execFileSync } = require('child_process');
const rules = loadIgnore(root);
const text = fs.readFileSync(path.join(root, 'acceptance-test-config.yml'), 'utf8');
const re = /^\s*(?:-\s+)?(\w*path):\s*["']?([^"'#\s]+)["']?\s*(?:#.*)?$/;
const paths = text.split('\n').map((l) => re.exec(l)).filter(Boolean).map((m) => m[2]);
const problems = [];
if (paths.length < 5) problems.push('fewer than 5 paths found: is the file in the expected layout?');
for (const p of new Set(paths)) {
  if (p.startsWith('secrets/')) {
    let gitIgnored = true;
    try {
      execFileSync('git', ['check-ignore', '-q', p], { cwd: root });
    } catch {
      gitIgnored = false;
    }
    if (!gitIgnored || !ignored(rules, p)) problems.push(p + ': secrets must be git- and docker-ignored');
  } else if (!fs.existsSync(path.join(root, p))) problems.push(p + ': no such file');
}
if (problems.length) {
  console.error('acceptance-test-config.yml: ' + problems.join('; '));
  process.exit(1);
}
console.error('image-smoke: acceptance-test-config.yml: ' + [...new Set(paths)].length + ' paths OK');
JS

say "contract: ENTRYPOINT ${ENTRY[*]}, USER $CUR_USER, $META_REPO:$PKG_VERSION"

# ---------------------------------------------------------------------------
# 5. Replay the build, then check what the runtime stage holds.
# ---------------------------------------------------------------------------
DRY=0
reset_replay
# shellcheck disable=SC1091
source "$WORK/plan.sh"
IMAGE_ROOT=$CUR_ROOT
IMAGE_WD="$CUR_ROOT$CUR_WD"
for part in package.json bin/main lib/index.js resources/spec.json node_modules; do
  [[ -e $IMAGE_WD/$part ]] || fail "the image has no $part in ${CUR_WD}"
done

# Production dependencies present; dev-only packages absent; musl builds of native
# packages locked (the image is alpine, so glibc builds would not load there).
node - "$ROOT/package-lock.json" "$IMAGE_WD" <<'JS' || fail "runtime node_modules (above)"
const fs = require('fs');
const path = require('path');
const [lockFile, app] = process.argv.slice(2);
const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
const pkgs = lock.packages;
const problems = [];
for (const name of Object.keys(pkgs[''].dependencies ?? {}))
  if (!fs.existsSync(path.join(app, 'node_modules', name))) problems.push(`missing dependency ${name}`);
const dev = Object.keys(pkgs).filter((p) => p && pkgs[p].dev && fs.existsSync(path.join(app, p)));
if (dev.length) problems.push(`dev-only packages in the image: ${dev.slice(0, 8).join(', ')}${dev.length > 8 ? ', …' : ''}`);
for (const need of ['typescript', 'jest'])
  if (fs.existsSync(path.join(app, 'node_modules', need))) problems.push(`node_modules/${need} is in the image`);
for (const [p, meta] of Object.entries(pkgs)) {
  if (!p || meta.dev) continue;
  for (const dep of Object.keys(meta.optionalDependencies ?? {})) {
    const m = pkgs[`node_modules/${dep}`];
    if (!m?.libc?.includes('glibc') || !m.os?.includes('linux')) continue;
    const musl = Object.keys(meta.optionalDependencies).some((d) => {
      const o = pkgs[`node_modules/${d}`];
      return o?.libc?.includes('musl') && o.os?.includes('linux') && String(o.cpu) === String(m.cpu);
    });
    if (!musl) problems.push(`${p.replace(/^node_modules\//, '')}: ${dep} has no musl build for alpine`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
JS
say "runtime stage: $(du -sh "$IMAGE_WD" | cut -f1) in $CUR_WD, no dev-only packages"

# ---------------------------------------------------------------------------
# 6. Run the image's ENTRYPOINT and bin/main from the source tree.
# ---------------------------------------------------------------------------
[[ -f lib/index.js && -f lib/simulator-cli.js ]] || { say "building the source tree"; npm run build >"$WORK/build.log" 2>&1; }
IMAGE_CMD=()
for arg in "${ENTRY[@]}"; do # absolute paths inside the image live under its folder
  if [[ $arg == /* && -e $IMAGE_ROOT$arg ]]; then IMAGE_CMD+=("$IMAGE_ROOT$arg"); else IMAGE_CMD+=("$arg"); fi
done
mkdir -p "$WORK/home"
RUN_ENV=(PATH="$PATH" HOME="$WORK/home" "${CUR_ENV[@]}")
image() { (cd "$IMAGE_WD" && env -i "${RUN_ENV[@]}" "${IMAGE_CMD[@]}" "$@"); }
source_tree() { (cd "$ROOT" && env -i "${RUN_ENV[@]}" "$ROOT/bin/main" "$@"); }
same_bytes() { # name: compares $WORK/image.$name with $WORK/source.$name
  cmp -s "$WORK/image.$1" "$WORK/source.$1" ||
    fail "$1 differs between the image (<) and the source tree (>):
$({ diff "$WORK/image.$1" "$WORK/source.$1" || true; } | head -n 10 | cut -c1-300)"
}

image spec >"$WORK/image.spec" || fail "image spec exited $?"
source_tree spec >"$WORK/source.spec" || fail "bin/main spec exited $?"
same_bytes spec
node -e '
  const [specOut, expected] = process.argv.slice(1);
  const spec = JSON.parse(require("fs").readFileSync(specOut, "utf8")).spec;
  process.exit(require("util").isDeepStrictEqual(spec, require(expected)) ? 0 : 1);
' "$WORK/image.spec" "$ROOT/test_files/expected_spec.json" ||
  fail "test_files/expected_spec.json differs from the spec; regenerate it with:
  bin/main spec | node -p 'JSON.stringify(JSON.parse(require(\"fs\").readFileSync(0, \"utf8\")).spec, null, 2)' > test_files/expected_spec.json"
say "spec: identical ($(wc -c <"$WORK/image.spec") bytes), matches test_files/expected_spec.json"

node lib/simulator-cli.js --port 0 --offers 300 >"$WORK/sim.out" 2>&1 &
SIM_PID=$!
SIM_URL=""
for _ in $(seq 100); do
  SIM_URL=$(sed -n 's/^GoKart simulator listening on \([^ ]*\).*/\1/p' "$WORK/sim.out")
  [[ -n $SIM_URL ]] && break
  kill -0 "$SIM_PID" 2>/dev/null || break
  sleep 0.1
done
[[ -n $SIM_URL ]] || fail "the simulator did not start: $(cat "$WORK/sim.out")"
printf '{"api_token":"sim-token","api_url":"%s"}\n' "$SIM_URL" >"$WORK/config.json"

for cmd in check discover; do
  image "$cmd" --config "$WORK/config.json" >"$WORK/image.$cmd" || fail "image $cmd exited $?"
  source_tree "$cmd" --config "$WORK/config.json" >"$WORK/source.$cmd" || fail "bin/main $cmd exited $?"
  same_bytes "$cmd"
done
grep -q '"status":"SUCCEEDED"' "$WORK/image.check" || fail "check did not succeed: $(cat "$WORK/image.check")"
grep -q '"name":"offers"' "$WORK/image.discover" || fail "discover has no offers stream: $(head -c 300 "$WORK/image.discover")"
say "check, discover: identical; check SUCCEEDED"

READ=(read --config "$WORK/config.json" --catalog "$ROOT/test_files/configured_catalog.json")
image "${READ[@]}" >"$WORK/image.read.raw" || fail "image read exited $?"
source_tree "${READ[@]}" >"$WORK/source.read.raw" || fail "bin/main read exited $?"
for side in image source; do # records and state, without emitted_at
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
    for (const l of lines) {
      const m = JSON.parse(l);
      if (m.type === "RECORD") console.log(JSON.stringify({ stream: m.record.stream, data: m.record.data }));
      else if (m.type === "STATE") console.log(JSON.stringify(m.state));
    }
  ' "$WORK/$side.read.raw" >"$WORK/$side.read"
done
same_bytes read
records=$(grep -c '"stream":"offers","data"' "$WORK/image.read" || true)
states=$(grep -c '"type":"STREAM"' "$WORK/image.read" || true)
[[ $records == 300 && $states == 1 ]] || fail "full read: $records records and $states STATE messages (want 300 and 1)"
say "read: identical, $records records and 1 STATE"

# ---------------------------------------------------------------------------
# 7. examples/ci-sync.sh against the image folder: full, then incremental.
# ---------------------------------------------------------------------------
ci_sync() {
  env -i PATH="$PATH" HOME="$WORK/home" GOKART_API_TOKEN=sim-token GOKART_API_URL="$SIM_URL" \
    SYNC_DIR="$WORK/ci" GOKART_MAIN="${IMAGE_CMD[*]}" bash "$ROOT/examples/ci-sync.sh" 2>>"$WORK/ci.log"
}
ci_sync || fail "ci-sync.sh run 1: $(cat "$WORK/ci.log")"
[[ $(grep -c '^{"type":"RECORD"' "$WORK/ci/output.jsonl") == 300 ]] || fail "ci-sync.sh run 1 did not read 300 offers"
cp "$WORK/ci/state.json" "$WORK/ci.state1"
node - "$SIM_URL" >"$WORK/new-ids.json" <<'JS' || fail "cannot add offers to the simulator"
// Seven offers launched in the last hours, as a partner would publish between two runs.
const now = Date.now();
const body = JSON.stringify({
  count: 7,
  seed: 7,
  launchFrom: new Date(now - 3 * 3600e3).toISOString(),
  launchTo: new Date(now - 3600e3).toISOString(),
});
const req = require('http').request(`${process.argv[2]}/_sim/offers`, { method: 'POST' }, (res) => {
  let s = '';
  res.on('data', (d) => (s += d)).on('end', () => {
    if (res.statusCode !== 200) throw new Error(`POST /_sim/offers: ${res.statusCode} ${s}`);
    console.log(JSON.stringify(JSON.parse(s).ids));
  });
});
req.end(body);
JS
ci_sync || fail "ci-sync.sh run 2: $(cat "$WORK/ci.log")"
node - "$WORK/ci.state1" "$WORK/ci/state.json" "$WORK/ci/output.jsonl" "$WORK/new-ids.json" <<'JS' || fail "ci-sync.sh (above)"
const fs = require('fs');
const [state1, state2, output, newIds] = process.argv.slice(2).map((f) => fs.readFileSync(f, 'utf8'));
const cursor = (s) => {
  const list = JSON.parse(s);
  if (!Array.isArray(list) || list.length !== 1 || list[0].type !== 'STREAM')
    throw new Error(`state.json is not a list of one STREAM state: ${s}`);
  return list[0].stream.stream_state.launchDate;
};
const ids = output.split('\n').filter((l) => l.startsWith('{"type":"RECORD"')).map((l) => JSON.parse(l).record.data.id);
const missing = JSON.parse(newIds).filter((id) => !ids.includes(id));
const problems = [];
if (missing.length) problems.push(`run 2 missed new offers ${missing.join(', ')}`);
if (ids.length >= 300) problems.push(`run 2 re-read ${ids.length} offers: not incremental`);
if (!(Date.parse(cursor(state2)) > Date.parse(cursor(state1))))
  problems.push(`cursor did not advance: ${cursor(state1)} -> ${cursor(state2)}`);
if (problems.length) {
  console.error('ci-sync.sh: ' + problems.join('; '));
  process.exit(1);
}
console.error(`image-smoke: ci-sync.sh: run 1 300 offers, run 2 ${ids.length} offers (7 new); cursor ${cursor(state1)} -> ${cursor(state2)}`);
JS

say "PASS"
