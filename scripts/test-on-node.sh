#!/usr/bin/env bash
# Tests this checkout's HEAD on another Node.js major, as a fresh machine would see it: fetches
# that Node from the npm registry (the node-linux-<arch> package, which carries the headers that
# native addons build against), clones the commit into a temporary folder, runs `npm ci` there
# with that Node first on PATH, and runs the given `npm test` tiers with it.
#
#   scripts/test-on-node.sh 24                   # deps, unit and integration, browser smoke
#   scripts/test-on-node.sh 22 unit              # any tiers of scripts/test.mjs
#
# Every step fails loudly: a Node that cannot be fetched, or is not the major asked for, stops
# the run with a non-zero exit; nothing falls back to the machine's own Node.
set -euo pipefail

major=${1:?usage: scripts/test-on-node.sh MAJOR [tier...]}
shift
[[ $major =~ ^[0-9]+$ ]] || { echo "test-on-node: MAJOR must be a number, not '$major'" >&2; exit 2; }
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(deps unit smoke)

root=$(cd "$(dirname "$0")/.." && pwd)
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "test-on-node: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/confab-node$major.XXXXXX")
trap 'rm -rf "$work"' EXIT
# mktemp makes it 0700: open it to other users, as a checkout is, since a test runs Node as
# `nobody` (packages/server/src/dataDir.test.ts) and must reach the fetched binary.
chmod 0755 "$work"
started=$SECONDS
lap=$SECONDS
took() { echo "test-on-node: $1 took $((SECONDS - lap)) s"; lap=$SECONDS; }

echo "test-on-node: fetching node-linux-$arch@$major from the npm registry"
npm install --prefix "$work/node" --no-save --no-package-lock --no-audit --no-fund \
  --loglevel=error "node-linux-$arch@$major" || {
  echo "test-on-node: cannot fetch node-linux-$arch@$major from the npm registry" >&2
  exit 1
}
nodedir="$work/node/node_modules/node-linux-$arch"
if [ ! -x "$nodedir/bin/node" ] || [ ! -d "$nodedir/include/node" ]; then
  echo "test-on-node: node-linux-$arch@$major installed no bin/node with include/node" >&2
  exit 1
fi
version=$("$nodedir/bin/node" -p process.versions.node)
if [ "${version%%.*}" != "$major" ]; then
  echo "test-on-node: asked for Node $major, got $version" >&2
  exit 1
fi
took "fetching Node $version"

commit=$(git -C "$root" rev-parse HEAD)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "test-on-node: note: uncommitted changes are not tested, only commit $commit"
fi
git clone --quiet --no-checkout "$root" "$work/repo"
git -C "$work/repo" checkout --quiet --detach "$commit"

# The npm on PATH runs under the fetched Node (its `#!/usr/bin/env node`), and node-gyp builds
# better-sqlite3 against that Node's headers instead of downloading them.
export PATH="$nodedir/bin:$PATH"
export npm_config_nodedir="$nodedir"
[ "$(node -p process.versions.node)" = "$version" ] || {
  echo "test-on-node: 'node' on PATH is not the fetched Node $version" >&2
  exit 1
}
echo "test-on-node: node $(node -v), npm $(npm -v), commit $commit"
(cd "$work/repo" && npm ci --no-audit --no-fund)
took "npm ci (with the build of native addons and of Confab)"

# The native addons load on this Node (better-sqlite3 built from source, node-datachannel's
# prebuilt binary): a broken ABI shows here in one line, before any test starts.
(cd "$work/repo/packages/server" && node --input-type=module -e "
  import Database from 'better-sqlite3';
  import nodeDataChannel from 'node-datachannel';
  const db = new Database(':memory:');
  const sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
  db.close();
  const pc = new nodeDataChannel.PeerConnection('probe', { iceServers: [] });
  pc.close();
  nodeDataChannel.cleanup();
  console.log('test-on-node: better-sqlite3 (SQLite ' + sqlite + ') and node-datachannel load');
")

(cd "$work/repo" && node scripts/test.mjs "${tiers[@]}")
took "tiers ${tiers[*]}"
echo "test-on-node: Node $version passed in $((SECONDS - started)) s"
