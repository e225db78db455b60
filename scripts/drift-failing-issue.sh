#!/usr/bin/env bash
# Keeps one open issue per stack, labelled "drift-check-failing", while the
# drift check itself fails (an error, a crash, a signal, or a job that broke
# before the check ran): opened by the first failing run, its body naming the
# latest one (no comment per hourly run), closed by the next run that reaches
# a verdict (clean 0, drift 3, no verdict 4). A failure never touches the
# drift issue (drift-issue.sh): no report, no claim either way.
#
# Usage: scripts/drift-failing-issue.sh STACK EXIT_CODE RUN_URL
# EXIT_CODE is the check's exit code, or "none" when the job failed before it.
# Needs GH_TOKEN with issues: write, and GITHUB_REPOSITORY.
set -euo pipefail
stack=$1 exit_code=$2 run_url=$3
title="Drift check failing for stack $stack"
label=drift-check-failing

gh label create "$label" --color b60205 --description "The drift check itself fails: drift goes unreported" \
	--repo "$GITHUB_REPOSITORY" 2>/dev/null || true
issues=$(gh issue list --repo "$GITHUB_REPOSITORY" --label "$label" --state open --search "in:title \"$title\"" \
	--json number,title --jq ".[] | select(.title == \"$title\") | .number")
issue=${issues%%$'\n'*}

case $exit_code in
0 | 3 | 4)
	if [[ -n $issue ]]; then
		gh issue close "$issue" --repo "$GITHUB_REPOSITORY" --comment "The drift check of stack $stack reaches a verdict again: $run_url" > /dev/null
	fi
	;;
*)
	body="The drift check of stack $stack fails (exit $exit_code), so drift in it goes unreported. The latest failing run, whose log says why: $run_url"
	if [[ -z $issue ]]; then
		gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --label "$label" --body "$body" > /dev/null
	else
		gh issue edit "$issue" --repo "$GITHUB_REPOSITORY" --body "$body" > /dev/null
	fi
	;;
esac
