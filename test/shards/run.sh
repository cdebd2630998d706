#!/usr/bin/env bash
# Start two throwaway PostgreSQL 15 servers on loopback (the shards), then run
# test/shards/*.sql with pg_prove against the current server (PGHOST/PGPORT:
# the coordinator), which reaches the shards through dblink.  The shards are
# stopped and removed on exit.  Prints pg_prove's TAP output.
# LMM_SERVER_OPTIONS (set by scripts/test.sh) adds server options, such as
# where to find an lmm that is not installed in the system.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(pg_config --bindir)
dir=$(mktemp -d /tmp/lmm-shards.XXXXXX)
chmod 755 "$dir"
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
ports=()
stop() {
	for i in 1 2; do
		[ -d "$dir/shard$i" ] && as_pg "$bin/pg_ctl" -D "$dir/shard$i" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$dir"
}
trap stop EXIT
for i in 1 2; do
	port=$(( ${PGPORT:-5432} + 100 + i ))
	ports+=("$port")
	as_pg "$bin/initdb" -D "$dir/shard$i" -A trust -U postgres >/dev/null || exit 1
	as_pg "$bin/pg_ctl" -D "$dir/shard$i" -w -l "$dir/shard$i.log" \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${LMM_SERVER_OPTIONS:-}" start >/dev/null || {
		cat "$dir/shard$i.log"; exit 1; }
done
pg_prove -v -S shard1="host=127.0.0.1 port=${ports[0]} user=postgres dbname=postgres" \
	-S shard2="host=127.0.0.1 port=${ports[1]} user=postgres dbname=postgres" test/shards/*.sql
