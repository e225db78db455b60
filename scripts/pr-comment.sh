#!/usr/bin/env bash
# Creates or updates the one pull-request comment that carries a marker, so
# that every push edits the same comment instead of adding another. Only a
# comment of the workflow's own account counts: anyone can write the marker
# into a comment of theirs, and that one is never edited or trusted.
#
# Usage: scripts/pr-comment.sh PR MARKER OUTPUT_FILE EXIT_CODE SHA
# Needs GH_TOKEN with pull-requests: write, and GITHUB_REPOSITORY.
# COMMENT_AUTHOR is the account GH_TOKEN comments as (default
# github-actions[bot], the workflow's GITHUB_TOKEN).
set -euo pipefail
pr=$1 marker=$2 output=$3 exit_code=$4 sha=$5
stack=${marker#*:}
author=${COMMENT_AUTHOR:-github-actions[bot]}

status="✅ preview succeeded"
[[ $exit_code == 0 ]] || status="❌ preview failed (exit $exit_code)"
body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT
{
	echo "<!-- $marker -->"
	echo "### Pulumi preview: \`$stack\` — $status"
	echo
	echo "Commit ${sha:0:12}. Secret values are shown as \`[secret]\`."
	echo
	# The policy pack's findings (the engine's "Policies:" block, up to the
	# next unindented line) outside the collapsed output: what a reviewer
	# must see first.
	policies=$(sed -e 's/\x1b\[[0-9;]*m//g' "$output" | awk '/^Policies:$/ {on = 1; next} on && /^[^ ]/ {on = 0} on && NF')
	if [[ $policies == *"[mandatory]"* || $policies == *"[advisory]"* ]]; then
		echo "#### Policy findings"
		echo
		echo '```'
		echo "${policies:0:20000}"
		echo '```'
		echo
	fi
	echo '<details><summary>Output</summary>'
	echo
	echo '```'
	# Strip terminal colours; keep the comment under GitHub's 65536 characters.
	sed -e 's/\x1b\[[0-9;]*m//g' "$output" | tail -c 60000
	echo '```'
	echo '</details>'
} > "$body_file"

# The first of the account's comments with the marker (the answer's first
# line; no `head`, which under pipefail can fail gh with SIGPIPE).
ids=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$pr/comments" \
	--jq ".[] | select(.user.login == \"$author\" and (.body | startswith(\"<!-- $marker -->\"))) | .id")
existing=${ids%%$'\n'*}
if [[ -n $existing ]]; then
	gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -F "body=@$body_file" > /dev/null
else
	gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$pr/comments" -F "body=@$body_file" > /dev/null
fi
