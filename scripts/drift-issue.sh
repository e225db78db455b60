#!/usr/bin/env bash
# Keeps one open issue per stack, labelled "drift", in step with the drift
# check: opened when drift is found (exit 3), updated while it persists,
# closed when the stack is clean again (exit 0). A comment is added only when
# the report changes (its digest is kept in the issue body), not on every run.
# The body stays under GitHub's 65,536 characters: a longer report is cut,
# with a link to the run whose job summary holds all of it.
#
# Usage: scripts/drift-issue.sh STACK EXIT_CODE REPORT_MD RUN_URL
# Needs GH_TOKEN with issues: write, and GITHUB_REPOSITORY.
set -euo pipefail
stack=$1 exit_code=$2 report=$3 run_url=$4
title="Drift in stack $stack"
# What of the report fits in an issue body, in bytes (a character is at
# least one): the rest of the 65,536 is the marker and the notes around it.
max_report=${DRIFT_MAX_REPORT_BYTES:-60000}

case $exit_code in
0 | 3) ;;
*)
	echo "drift-issue.sh: exit code $exit_code is neither clean (0) nor drift (3): the check failed, and its report says nothing" >&2
	exit 1
	;;
esac

gh label create drift --color d93f0b --description "Infrastructure changed outside Pulumi" \
	--repo "$GITHUB_REPOSITORY" 2>/dev/null || true
# The stack's open drift issue, if any (the first line of the answer; no
# `head`, which under pipefail can fail gh with SIGPIPE).
issues=$(gh issue list --repo "$GITHUB_REPOSITORY" --label drift --state open --search "in:title \"$title\"" \
	--json number,title --jq ".[] | select(.title == \"$title\") | .number")
issue=${issues%%$'\n'*}

digest=$(sha256sum "$report" | cut -d' ' -f1)
marker="<!-- drift-report: $digest -->"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
{
	echo "$marker"
	if (($(wc -c < "$report") > max_report)); then
		head -c "$max_report" "$report"
		echo
		echo
		echo "_The report is cut here: the whole of it is in the job summary of $run_url._"
	else
		cat "$report"
	fi
	echo
	echo "Last checked by $run_url."
} > "$body"

case $exit_code in
3)
	if [[ -z $issue ]]; then
		gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --label drift --body-file "$body" > /dev/null
		exit 0
	fi
	previous=$(gh issue view "$issue" --repo "$GITHUB_REPOSITORY" --json body --jq .body)
	gh issue edit "$issue" --repo "$GITHUB_REPOSITORY" --body-file "$body" > /dev/null
	if [[ $previous != *"$marker"* ]]; then
		gh issue comment "$issue" --repo "$GITHUB_REPOSITORY" --body "The drift changed: $run_url" > /dev/null
	fi
	;;
0)
	if [[ -n $issue ]]; then
		gh issue close "$issue" --repo "$GITHUB_REPOSITORY" --comment "Stack $stack is clean again: $run_url" > /dev/null
	fi
	;;
esac
