#!/usr/bin/env bash
# Install the Debian packages lmm needs to build and test, if any is missing.
# Run as root (apt-get); does nothing when everything is present.
set -euo pipefail
pkgs=(build-essential postgresql-15 postgresql-server-dev-15 libopenblas-dev
	  liblapacke-dev libnlopt-dev libsuitesparse-dev postgresql-15-pgtap postgresql-15-cron
	  libtap-parser-sourcehandler-pgtap-perl clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
