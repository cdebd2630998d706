#!/usr/bin/env bash
# The N-th fenced block (1 = the first) of the README.md section whose "### "
# heading is $1, without its fences: tests run the README's examples and
# compare the output they show.  Usage: readme_block.sh "heading" N
heading=$1
n=$2
awk -v h="### $heading" -v n="$n" '
	$0 == h { f = 1; next }
	f && /^#/ { exit }
	f && /^```/ { b++; next }
	f && b == 2 * n - 1' "$(dirname "$0")/../../README.md"
