#!/usr/bin/env bash
# Builds every tool the project runs from its pinned Go module (tools/*/go.mod)
# and caches each under $PLATFORM_TOOLS/<name>-<version>/, so a second run costs
# seconds. Builds run one at a time: the heavy ones need several GB each.
#
# Usage: scripts/tools.sh [tool...]   (default: all)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"

# version MODULE_DIR MODULE prints the version that tools/MODULE_DIR/go.mod pins for MODULE.
version() {
	awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
		"$root/tools/$1/go.mod"
}

log() { printf '==> %s\n' "$*" >&2; }

# build NAME VERSION MODULE_DIR LDFLAGS [BINARY=]PACKAGE... builds each package's binary
# into $PLATFORM_TOOLS/NAME-VERSION/ unless that folder is complete already.
build() {
	local name=$1 version=$2 dir=$3 ldflags=$4
	shift 4
	local out="$PLATFORM_TOOLS/$name-$version"
	if [[ -f "$out/.complete" ]]; then
		return 0
	fi
	log "building $name $version (cached in ${out#"$root"/})"
	local start=$SECONDS
	mkdir -p "$out"
	local pkg binary
	for pkg in "$@"; do
		binary=$(basename "$pkg")
		if [[ $pkg == *=* ]]; then
			binary=${pkg%%=*} pkg=${pkg#*=}
		fi
		(cd "$root/tools/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$binary" "$pkg")
	done
	touch "$out/.complete"
	log "built $name $version in $((SECONDS - start))s"
}

pulumi_cli() {
	build pulumi "$PULUMI_VERSION" pulumi \
		"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	ln -sfn "$PLATFORM_TOOLS/pulumi-$PULUMI_VERSION/pulumi" "$PLATFORM_TOOLS/bin/pulumi"
}

kubernetes_plugin() {
	pulumi_cli
	local dir="$root/tools/pulumi-kubernetes" module_dir
	if [[ ! -f "$PLATFORM_TOOLS/pulumi-kubernetes-$K8S_PLUGIN_VERSION/.complete" ]]; then
		# The module ships the schema and mapping beside its own main; copy them for go:embed.
		module_dir=$(cd "$dir" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
		mkdir -p "$dir/schema"
		install -m 0644 "$module_dir/cmd/pulumi-resource-kubernetes/schema.json" \
			"$module_dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$dir/schema/"
	fi
	build pulumi-kubernetes "$K8S_PLUGIN_VERSION" pulumi-kubernetes \
		"-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PLUGIN_VERSION" \
		pulumi-kubernetes=.
	local binary="$PLATFORM_TOOLS/pulumi-kubernetes-$K8S_PLUGIN_VERSION/pulumi-kubernetes"
	if [[ ! -x "$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PLUGIN_VERSION/pulumi-resource-kubernetes" ]]; then
		log "installing resource plugin kubernetes $K8S_PLUGIN_VERSION into ${PULUMI_HOME#"$root"/}"
		pulumi plugin install resource kubernetes "$K8S_PLUGIN_VERSION" --file "$binary" >&2
	fi
}

kubernetes() {
	local v
	v=$(version kubernetes k8s.io/kubernetes)
	build kubernetes "$v" kubernetes \
		"-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${v#v1.}" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
	for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
		ln -sfn "$PLATFORM_TOOLS/kubernetes-$v/$b" "$PLATFORM_TOOLS/bin/$b"
	done
}

etcd() {
	local v
	v=$(version etcd go.etcd.io/etcd/server/v3)
	build etcd "$v" etcd "" etcd=go.etcd.io/etcd/server/v3
	ln -sfn "$PLATFORM_TOOLS/etcd-$v/etcd" "$PLATFORM_TOOLS/bin/etcd"
}

kwok() {
	local v
	v=$(version kwok sigs.k8s.io/kwok)
	build kwok "$v" kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$v" sigs.k8s.io/kwok/cmd/kwok
	ln -sfn "$PLATFORM_TOOLS/kwok-$v/kwok" "$PLATFORM_TOOLS/bin/kwok"
	# kwok standalone has no default stages: take upstream's from the module, as released.
	local stages="$PLATFORM_TOOLS/kwok-$v/stages.yaml" module_dir
	if [[ ! -s "$stages" ]]; then
		module_dir=$(cd "$root/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
		for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
			volume/fast/pvc-provision.yaml volume/fast/pv-bind.yaml volume/fast/pvc-delete.yaml volume/fast/pv-delete.yaml; do
			cat "$module_dir/$f"
			printf -- '---\n'
		done > "$stages.tmp"
		mv "$stages.tmp" "$stages"
	fi
	ln -sfn "$stages" "$PLATFORM_TOOLS/bin/kwok-stages.yaml"
}

actionlint() {
	local v
	v=$(version actionlint github.com/rhysd/actionlint)
	build actionlint "$v" actionlint "-X github.com/rhysd/actionlint.version=$v" github.com/rhysd/actionlint/cmd/actionlint
	ln -sfn "$PLATFORM_TOOLS/actionlint-$v/actionlint" "$PLATFORM_TOOLS/bin/actionlint"
}

mkdir -p "$PLATFORM_TOOLS/bin"
tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(pulumi_cli kubernetes_plugin etcd kubernetes kwok actionlint)
for t in "${tools[@]}"; do
	"$t"
done
