#!/usr/bin/env bash
# scripts/check_layers.sh [OBJDIR]: the numerical core's files form layers.
# src/core/LAYERS lists the core's modules from the bottom layer up, one
# layer a line; a module may call only modules on lower lines.  From the
# symbols each object file defines and the ones it leaves undefined (nm),
# this prints every call to a module on the same line or higher, and every
# object the list does not name, and exits non-zero if there is any: so a
# call cycle among the core's objects can never build without failing here.
set -euo pipefail
cd "$(dirname "$0")/.."
objdir=${1:-src/core}
layers=src/core/LAYERS

# The objects of the core's sources (a stale object of a removed file is no module).
nm_all() {
	local c o
	for c in src/core/*.c; do
		o="$objdir/$(basename "$c" .c).o"
		[ -f "$o" ] || { echo "layers: $o is missing: build first" >&2; exit 2; }
		nm "$o" | awk -v m="$(basename "$o" .o)" '
			NF == 3 && $2 ~ /^[TDBR]$/ { print "def", m, $3 }
			NF == 2 && $1 == "U" { print "use", m, $2 }'
	done
}

nm_all | awk -v layers="$layers" '
	BEGIN {
		while ((getline line < layers) > 0) {
			sub(/#.*/, "", line)
			n = split(line, mods)
			if (n == 0)
				continue
			level++
			for (i = 1; i <= n; i++)
				layer[mods[i]] = level
		}
	}
	$1 == "def" { owner[$3] = $2; seen[$2] = 1 }
	$1 == "use" { nuse++; um[nuse] = $2; us[nuse] = $3; seen[$2] = 1 }
	END {
		bad = 0
		for (m in seen)
			if (!(m in layer)) {
				printf "layers: %s.o is not in %s\n", m, layers
				bad = 1
			}
		for (i = 1; i <= nuse; i++) {
			m = um[i]; s = us[i]
			if (!(s in owner) || owner[s] == m)
				continue
			o = owner[s]
			if ((m in layer) && (o in layer) && layer[o] >= layer[m]) {
				printf "layers: %s calls %s (%s), which is not below it\n", m, o, s
				bad = 1
			}
		}
		if (!bad)
			printf "layers: ok (%d modules)\n", length(layer)
		exit bad
	}'
