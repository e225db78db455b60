#!/usr/bin/env bash
# Provides every tool the project runs at its pinned version, under
# $PLATFORM_TOOLS/bin. What is installed already is used as it is; only what
# is missing is built, from its pinned Go module (testbed/tools/*/go.mod), and cached
# under $PLATFORM_TOOLS/<name>-<version>-<inputs>/, so a second run costs seconds.
# Builds run one at a time: the heavy ones need several GB each.
#
# Usage: scripts/tools.sh [tool...]   tools: pulumi_cli kubernetes_plugin etcd
#                                     kubernetes kwok node jaeger oauth2_proxy yaml_language gensdk actionlint
#                                     s3_server (default: all)
#        scripts/tools.sh sources     fetch every module whose files a build
#                                     reads and check those files are there
#        scripts/tools.sh prune       remove the cached builds bin/ does not
#                                     link to (CI's restored cache; on a machine
#                                     whose clones are at other commits, their
#                                     builds would go too)
#
# Environment:
#   PLATFORM_PULUMI      a Pulumi CLI to use; refused unless it is the pinned version
#   PLATFORM_K8S_PLUGIN  a pulumi-resource-kubernetes binary of the pinned version to install
#   PLATFORM_OFFLINE=1   never try to download the released Kubernetes plugin
#   PLATFORM_DOWNLOAD_TIMEOUT  seconds the download may take before building instead (30)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'tools: %s\n' "$*" >&2; exit 1; }

# version MODULE_DIR MODULE prints the version that testbed/tools/MODULE_DIR/go.mod pins for MODULE.
version() {
	awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
		"$root/testbed/tools/$1/go.mod"
}

# module_dir MODULE_DIR MODULE downloads MODULE at the version testbed/tools/MODULE_DIR
# pins and prints where its files are. Every read of a module's files goes
# through here: on a fresh machine the module cache is empty until a download.
module_dir() {
	(cd "$root/testbed/tools/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2")
}

# require_files DIR FILE... fails, naming the file, unless each exists in DIR.
require_files() {
	local dir=$1 f
	shift
	for f in "$@"; do
		[[ -s "$dir/$f" ]] || die "$f is missing from $dir"
	done
}

# build NAME VERSION MODULE_DIR LDFLAGS [BINARY=]PACKAGE... builds each package's binary
# into $PLATFORM_TOOLS/NAME-VERSION-INPUTS/ unless that folder is complete
# already, and sets built to that folder. INPUTS is a hash of what else
# decides the binaries: the module's go.mod and go.sum, the Go files of its
# own packages, the flags and CGO_ENABLED; a cache of another build of the
# same version is never taken for this one. Every binary leaves out the
# symbol table and DWARF (-s -w), as the driver's build does: the links take
# about half the time (kube 24 s -> 11 s here) and panics keep their traces.
build() {
	local name=$1 version=$2 dir=$3 ldflags="-s -w $4"
	shift 4
	local module="$root/testbed/tools/$dir" inputs
	inputs=$( {
		cat "$module/go.mod" "$module/go.sum"
		printf '%s\n' "$ldflags" "${CGO_ENABLED:-}" "$@"
		local pkg
		for pkg in "$@"; do
			pkg=${pkg#*=}
			if [[ $pkg == ./* || $pkg == . ]]; then
				cat "$module/$pkg"/*.go
			fi
		done
	} | sha256sum | cut -c1-12)
	built="$PLATFORM_TOOLS/$name-$version-$inputs"
	if [[ -f "$built/.complete" ]]; then
		return 0
	fi
	log "building $name $version (cached in $built)"
	local start=$SECONDS
	mkdir -p "$built"
	local pkg binary
	for pkg in "$@"; do
		binary=$(basename "$pkg")
		if [[ $pkg == *=* ]]; then
			binary=${pkg%%=*} pkg=${pkg#*=}
		fi
		(cd "$module" && go build -trimpath -ldflags "$ldflags" -o "$built/$binary" "$pkg")
	done
	touch "$built/.complete"
	log "built $name $version in $((SECONDS - start))s"
}

# link BINARY... links each of $built's binaries into $PLATFORM_TOOLS/bin.
link() {
	local b
	for b in "$@"; do
		ln -sfn "$built/$b" "$PLATFORM_TOOLS/bin/$b"
	done
}

# cli_version BINARY prints the version a Pulumi CLI reports, or nothing.
cli_version() {
	"$1" version 2>/dev/null | head -c 64 | tr -d '[:space:]' || true
}

# pulumi_cli links $PLATFORM_TOOLS/bin/pulumi to the pinned CLI: the one
# PLATFORM_PULUMI names (which must be that version), else a `pulumi` on PATH
# of that version, else a build from testbed/tools/pulumi.
pulumi_cli() {
	local want="$PULUMI_VERSION" link="$PLATFORM_TOOLS/bin/pulumi" found got
	if [[ -n ${PLATFORM_PULUMI:-} ]]; then
		[[ -x $PLATFORM_PULUMI ]] || die "PLATFORM_PULUMI=$PLATFORM_PULUMI is not an executable file"
		got=$(cli_version "$PLATFORM_PULUMI")
		[[ $got == "$want" ]] || die "PLATFORM_PULUMI=$PLATFORM_PULUMI is Pulumi ${got:-of unknown version}; this project pins $want (testbed/tools/pulumi/go.mod): point it at $want, or unset it to build $want"
		ln -sfn "$PLATFORM_PULUMI" "$link"
		return 0
	fi
	found=$(PATH=$(without_tools_bin "$PATH") command -v pulumi || true)
	if [[ -n $found ]]; then
		got=$(cli_version "$found")
		if [[ $got == "$want" ]]; then
			log "using the installed Pulumi CLI $got ($found)"
			ln -sfn "$found" "$link"
			return 0
		fi
		log "not using $found: it is Pulumi ${got:-of unknown version}, this project pins $want"
	fi
	build pulumi "$want" pulumi \
		"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$want" \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	ln -sfn "$built/pulumi" "$link"
}

# without_tools_bin PATH prints PATH without $PLATFORM_TOOLS/bin.
without_tools_bin() {
	local IFS=: out=() d
	for d in $1; do
		[[ $d == "$PLATFORM_TOOLS/bin" ]] || out+=("$d")
	done
	printf '%s' "${out[*]}"
}

# kubernetes_plugin_sources prints the provider module's directory once the
# files its build embeds are there (upstream's main embeds generated files
# that the module zip ships beside it).
kubernetes_plugin_sources() {
	local dir
	dir=$(module_dir pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)
	require_files "$dir" cmd/pulumi-resource-kubernetes/schema.json cmd/pulumi-resource-kubernetes/terraform-mapping.json
	printf '%s\n' "$dir"
}

# kubernetes_plugin installs the pinned Kubernetes resource plugin into
# PULUMI_HOME, taking the first that works: installed there already; the binary
# PLATFORM_K8S_PLUGIN names; the user's own Pulumi home; the released plugin,
# downloaded within a short timeout; a build from the provider module.
kubernetes_plugin() {
	pulumi_cli
	local v=$K8S_PLUGIN_VERSION
	local plugin_dir="plugins/resource-kubernetes-v$v" binary=pulumi-resource-kubernetes
	[[ -x "$PULUMI_HOME/$plugin_dir/$binary" ]] && return 0
	local user_plugin="${PLATFORM_USER_PULUMI_HOME:-$HOME/.pulumi}/$plugin_dir/$binary"
	for candidate in "${PLATFORM_K8S_PLUGIN:-}" "$user_plugin"; do
		if [[ -n $candidate && -x $candidate ]]; then
			if ! is_kubernetes_plugin "$candidate" "$v"; then
				log "not using $candidate: its Go build information does not say pulumi-kubernetes v$v (go version -m)"
				continue
			fi
			log "installing the Kubernetes plugin $v from $candidate"
			pulumi plugin install resource kubernetes "$v" --file "$candidate" >&2
			return 0
		fi
	done
	if [[ ${PLATFORM_OFFLINE:-} != 1 ]]; then
		log "downloading the released Kubernetes plugin $v (at most ${PLATFORM_DOWNLOAD_TIMEOUT:-30}s; PLATFORM_OFFLINE=1 skips this)"
		if timeout "${PLATFORM_DOWNLOAD_TIMEOUT:-30}" pulumi plugin install resource kubernetes "$v" >&2 2>/dev/null; then
			return 0
		fi
		log "no download: building the Kubernetes plugin $v from its module instead"
	fi
	# The embedded files are copied from the pinned module every time, so that
	# a copy of another version's (git-ignored) is never built in; go.sum,
	# part of the build's key, pins the module they come from.
	local dir="$root/testbed/tools/pulumi-kubernetes" module
	module=$(kubernetes_plugin_sources)
	mkdir -p "$dir/schema"
	install -m 0644 "$module/cmd/pulumi-resource-kubernetes/schema.json" \
		"$module/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$dir/schema/"
	build pulumi-kubernetes "$v" pulumi-kubernetes \
		"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v" \
		pulumi-kubernetes=.
	log "installing the Kubernetes plugin $v into ${PULUMI_HOME#"$root"/}"
	pulumi plugin install resource kubernetes "$v" --file "$built/pulumi-kubernetes" >&2
}

# is_kubernetes_plugin FILE VERSION: whether FILE is a build of
# pulumi-kubernetes VERSION, by the build information Go records in every
# binary (go version -m): the provider's module, as main module or
# dependency, at vVERSION (a release built from its tag) or at the commit
# testbed/tools/pulumi-kubernetes/go.mod pins for it (our build). A file that
# is another program, another version or carries no build information is
# refused before the engine runs it.
is_kubernetes_plugin() {
	local info pinned module=github.com/pulumi/pulumi-kubernetes/provider/v4
	info=$(go version -m "$1" 2>/dev/null) || return 1
	pinned=$(version pulumi-kubernetes "$module")
	grep -Eq $'^\t(mod|dep)\t'"$module"$'\t(v'"$2|$pinned"$')(\t|$)' <<<"$info"
}

# kubernetes_ldflags VERSION: the version the Kubernetes binaries report.
kubernetes_ldflags() {
	echo "-X k8s.io/component-base/version.gitVersion=$1 -X k8s.io/client-go/pkg/version.gitVersion=$1 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${1#v1.}"
}

# The local cluster's programs all come from one module, testbed/tools/cluster,
# so that the packages they share (client-go, gRPC, etcd's client, …) are
# compiled once, at one version, with one setting: kwok, CoreDNS and etcd
# reuse most of what Kubernetes compiled. All are static (CGO_ENABLED=0), as
# each upstream releases them (Kubernetes: hack/lib/golang.sh,
# KUBE_STATIC_BINARIES, v1.37.2; kwok: hack/releases.sh, v0.8.0; etcd: its
# build script's CGO_ENABLED default, 0); a cgo build would compile package
# net and everything above it a second time.

# cluster_build NAME VERSION LDFLAGS [BINARY=]PACKAGE... builds in testbed/tools/cluster.
cluster_build() {
	local name=$1 version=$2 ldflags=$3
	shift 3
	CGO_ENABLED=0 build "$name" "$version" cluster "$ldflags" "$@"
}

# kubernetes builds the control plane, kubectl and the real node's kubelet and
# kube-proxy as one binary, kube (testbed/tools/cluster/kube), linked under
# each program's name.
kubernetes() {
	local v
	v=$(version cluster k8s.io/kubernetes)
	cluster_build kubernetes "$v" "$(kubernetes_ldflags "$v")" kube=./kube
	local b
	for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
		ln -sfn "$built/kube" "$PLATFORM_TOOLS/bin/$b"
	done
}

# node builds the real node's programs: kubelet and kube-proxy (kubernetes),
# kube-router's network policy controller (testbed/tools/cluster/netpol: its
# main is ours) and CoreDNS with the plugins the cluster's Corefile uses
# (testbed/tools/cluster/coredns).
node() {
	kubernetes
	cluster_build netpol "$(version cluster github.com/cloudnativelabs/kube-router/v2)" "" netpol=./netpol
	link netpol
	cluster_build coredns "$(version cluster github.com/coredns/coredns)" "" coredns=./coredns
	link coredns
}

etcd() {
	cluster_build etcd "$(version cluster go.etcd.io/etcd/server/v3)" "" etcd=go.etcd.io/etcd/server/v3
	link etcd
}

# kwok's stage files, as released: kwok standalone has no default stages.
kwok_stage_files=(
	node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml
	volume/fast/pvc-provision.yaml volume/fast/pv-bind.yaml volume/fast/pvc-delete.yaml volume/fast/pv-delete.yaml
)

# kwok_sources prints the folder of kwok's stage files once they are there.
kwok_sources() {
	local dir
	dir=$(module_dir cluster sigs.k8s.io/kwok)/kustomize/stage
	require_files "$dir" "${kwok_stage_files[@]}"
	printf '%s\n' "$dir"
}

kwok() {
	local v
	v=$(version cluster sigs.k8s.io/kwok)
	cluster_build kwok "$v" "-X sigs.k8s.io/kwok/pkg/consts.Version=$v" sigs.k8s.io/kwok/cmd/kwok
	link kwok
	local stages="$built/stages.yaml" dir f
	if [[ ! -s "$stages" ]]; then
		dir=$(kwok_sources)
		for f in "${kwok_stage_files[@]}"; do
			cat "$dir/$f"
			printf -- '---\n'
		done > "$stages.tmp"
		mv "$stages.tmp" "$stages"
	fi
	ln -sfn "$stages" "$PLATFORM_TOOLS/bin/kwok-stages.yaml"
}

# jaeger is static (CGO_ENABLED=0, as upstream's image build): the real
# node runs it in an image with nothing else in it.
jaeger() {
	local v
	v=$(version jaeger github.com/jaegertracing/jaeger)
	CGO_ENABLED=0 build jaeger "$v" jaeger "" github.com/jaegertracing/jaeger/cmd/jaeger
	link jaeger
}

# oauth2_proxy is static too: the real node runs it in front of Jaeger's UI
# in an image of its own, as upstream's Dockerfile does (distroless static).
oauth2_proxy() {
	local v
	v=$(version oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7)
	CGO_ENABLED=0 build oauth2-proxy "$v" oauth2-proxy "" oauth2-proxy=github.com/oauth2-proxy/oauth2-proxy/v7
	link oauth2-proxy
}

# yaml_language builds the Pulumi YAML language host, with which the engine
# runs the package's YAML programs (the provider e2e test). Its own module:
# v1.25.0 does not compile against the CLI's pkg/v3 v3.274.1 (plugin API
# changes), so it keeps the pkg/v3 v3.206.0 it requires; the engine talks
# to it over the language host's gRPC protocol. The CLI takes it from PATH
# (the bin folder) where PULUMI_IGNORE_AMBIENT_PLUGINS is false: YAML is a
# "bundled" language, which `pulumi plugin install` refuses.
yaml_language() {
	local v
	v=$(version pulumi-yaml github.com/pulumi/pulumi-yaml)
	build pulumi-language-yaml "$v" pulumi-yaml \
		"-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$v" \
		github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
	link pulumi-language-yaml
}

# gensdk generates the package's TypeScript and Python SDKs with the
# pinned CLI's own code generators (testbed/tools/pulumi/gensdk; same module,
# same build cache as the CLI). Its code is the project's own, and the cache
# is keyed by it (build): a binary cached from an older gensdk (another
# banner in every generated file) would pass sdk-check on one machine and
# fail it on a new one.
gensdk() {
	build gensdk "$PULUMI_VERSION" pulumi "" ./gensdk
	link gensdk
}

actionlint() {
	local v
	v=$(version actionlint github.com/rhysd/actionlint)
	build actionlint "$v" actionlint "-X github.com/rhysd/actionlint.version=$v" github.com/rhysd/actionlint/cmd/actionlint
	link actionlint
}

# s3_server is an S3 server (gofakes3, the one behind `rclone serve s3`) for
# the suite's shared backend: built in the Pulumi CLI's module
# (testbed/tools/pulumi), whose AWS SDK build it shares, so that it costs
# seconds more than the CLI.
s3_server() {
	local v
	v=$(version pulumi github.com/johannesboyne/gofakes3)
	build gofakes3 "$v" pulumi "" github.com/johannesboyne/gofakes3/cmd/gofakes3
	link gofakes3
}

# sources checks, without building anything, that every module file a build
# reads arrives with a download: run it against an empty GOMODCACHE.
sources() {
	kubernetes_plugin_sources
	kwok_sources
}

# prune removes every build folder under $PLATFORM_TOOLS that no link in
# bin/ points into: builds of other versions or inputs. The Kubernetes
# plugin's build goes too once it is installed into PULUMI_HOME.
prune() {
	local keep=() link dir
	for link in "$PLATFORM_TOOLS"/bin/*; do
		[[ -L $link ]] || continue
		keep+=("$(dirname "$(readlink "$link")")")
	done
	for dir in "$PLATFORM_TOOLS"/*/; do
		dir=${dir%/}
		[[ -f $dir/.complete ]] || continue
		if ! printf '%s\n' "${keep[@]}" | grep -qxF "$dir"; then
			log "pruning ${dir#"$PLATFORM_TOOLS"/}"
			rm -rf "$dir"
		fi
	done
}

mkdir -p "$PLATFORM_TOOLS/bin"
all_tools=(pulumi_cli kubernetes_plugin etcd kubernetes kwok node jaeger oauth2_proxy yaml_language gensdk actionlint s3_server)
commands=("${all_tools[@]}" sources prune)
tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=("${all_tools[@]}")
for t in "${tools[@]}"; do
	printf '%s\n' "${commands[@]}" | grep -qxF -- "$t" || die "unknown tool $t; known: ${commands[*]}"
	"$t"
done
