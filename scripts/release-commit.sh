#!/usr/bin/env bash
# Refuses to deploy a tag whose commit is on neither main nor a release/*
# branch: only the releasers may push v* tags (the release-tags ruleset),
# and this catches a releaser's tag on a commit that was never reviewed
# into a protected branch. It reads the remote-tracking branches of a full
# clone (actions/checkout with fetch-depth: 0); nothing is trusted from the
# event but the commit.
#
# Usage: scripts/release-commit.sh COMMIT
set -euo pipefail
commit=$1
git rev-parse --verify --quiet "$commit^{commit}" > /dev/null ||
	{ echo "release-commit.sh: $commit is not a commit of this clone" >&2; exit 1; }
while read -r branch; do
	if git merge-base --is-ancestor "$commit" "$branch"; then
		echo "commit $commit is on ${branch#refs/remotes/origin/}"
		exit 0
	fi
done < <(git for-each-ref --format='%(refname)' refs/remotes/origin/main 'refs/remotes/origin/release/*')
echo "::error::commit $commit is on neither main nor a release/* branch: a release tag must point at a reviewed commit; tag one on main or release/*" >&2
exit 1
