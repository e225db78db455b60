#!/usr/bin/env bash
# Keeps one open issue per stack, labelled "drift", in step with the drift
# check: opened when drift is found (exit 2), updated while it persists,
# closed when the stack is clean again (exit 0).
#
# Usage: scripts/drift-issue.sh STACK EXIT_CODE REPORT_MD RUN_URL
# Needs GH_TOKEN with issues: write, and GITHUB_REPOSITORY.
set -euo pipefail
stack=$1 exit_code=$2 report=$3 run_url=$4
title="Drift in stack $stack"

gh label create drift --color d93f0b --description "Infrastructure changed outside Pulumi" \
	--repo "$GITHUB_REPOSITORY" 2>/dev/null || true
issue=$(gh issue list --repo "$GITHUB_REPOSITORY" --label drift --state open --search "in:title \"$title\"" \
	--json number,title --jq ".[] | select(.title == \"$title\") | .number" | head -n 1)

body=$(mktemp)
{ cat "$report"; echo; echo "Last checked by $run_url."; } > "$body"

case $exit_code in
2)
	if [[ -n $issue ]]; then
		gh issue edit "$issue" --repo "$GITHUB_REPOSITORY" --body-file "$body" > /dev/null
		gh issue comment "$issue" --repo "$GITHUB_REPOSITORY" --body "Drift persists: $run_url" > /dev/null
	else
		gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --label drift --body-file "$body" > /dev/null
	fi
	;;
0)
	if [[ -n $issue ]]; then
		gh issue close "$issue" --repo "$GITHUB_REPOSITORY" --comment "Stack $stack is clean again: $run_url" > /dev/null
	fi
	;;
*)
	echo "drift-issue.sh: exit code $exit_code is neither clean (0) nor drift (2)" >&2
	exit 1
	;;
esac
