# shellcheck shell=bash
# Sourced by the project's scripts: where the tools live and how the Pulumi
# engine runs here (project-local plugins, never the network).

platform_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# One folder per user holds every tool build, keyed by version and inputs, shared by
# every clone and worktree (the Makefile has the same default).
export PLATFORM_TOOLS=${PLATFORM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/platform-tools}
export PATH="$PLATFORM_TOOLS/bin:$PATH"

# The CLI version is the one testbed/tools/pulumi pins; the Kubernetes plugin version is
# the one the program's SDK (go.mod) asks for, so the two cannot drift apart.
PULUMI_VERSION=$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit }' "$platform_root/testbed/tools/pulumi/go.mod")
K8S_PLUGIN_VERSION=$(awk '$1 == "github.com/pulumi/pulumi-kubernetes/sdk/v4" { sub(/^v/, "", $2); print $2; exit }' "$platform_root/go.mod")
export PULUMI_VERSION K8S_PLUGIN_VERSION

export PULUMI_SKIP_UPDATE_CHECK=true

# Where the engine's plugins come from, decided here and nowhere else:
#   local     (default; this machine, make test, make deploy) the tools' own
#             PULUMI_HOME, filled by scripts/tools.sh; never the network.
#   released  (the delivery workflows on GitHub's runners) the user's
#             PULUMI_HOME; the engine downloads the released plugin of each
#             version the program's SDKs ask for (go.mod), on first use.
export PLATFORM_PLUGINS=${PLATFORM_PLUGINS:-local}
case $PLATFORM_PLUGINS in
local)
	export PULUMI_HOME=${PULUMI_HOME:-$PLATFORM_TOOLS/pulumi-home}
	export PULUMI_IGNORE_AMBIENT_PLUGINS=true
	export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
	;;
released)
	export PULUMI_IGNORE_AMBIENT_PLUGINS=false
	export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=false
	;;
*)
	echo "env.sh: PLATFORM_PLUGINS=$PLATFORM_PLUGINS: must be local or released" >&2
	return 1 2>/dev/null || exit 1
	;;
esac
