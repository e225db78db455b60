# shellcheck shell=bash
# Sourced by the project's scripts: where the tools live and how the Pulumi
# engine runs here (project-local plugins, never the network).

platform_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# One folder per user holds every tool build, keyed by version, shared by
# every clone and worktree (the Makefile has the same default).
export PLATFORM_TOOLS=${PLATFORM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/platform-tools}
export PATH="$PLATFORM_TOOLS/bin:$PATH"

# The CLI version is the one tools/pulumi pins; the Kubernetes plugin version is
# the one the program's SDK (go.mod) asks for, so the two cannot drift apart.
PULUMI_VERSION=$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit }' "$platform_root/tools/pulumi/go.mod")
K8S_PLUGIN_VERSION=$(awk '$1 == "github.com/pulumi/pulumi-kubernetes/sdk/v4" { sub(/^v/, "", $2); print $2; exit }' "$platform_root/go.mod")
export PULUMI_VERSION K8S_PLUGIN_VERSION

export PULUMI_HOME=${PULUMI_HOME:-$PLATFORM_TOOLS/pulumi-home}
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
