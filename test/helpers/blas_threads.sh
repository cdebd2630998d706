#!/bin/bash
# test/helpers/blas_threads.sh count|mark|check PID: the threads of backend
# PID other than its main one (the OpenBLAS pool, stopped when lmm.so loads
# and started again by a BLAS call that may use more than one thread).
#   count  says whether there are any (none, or some: how many OpenBLAS
#          starts depends on the machine's cores);
#   mark   remembers each thread's CPU time;
#   check  says whether every such thread is asleep now (five looks over half
#          a second) and has used no more than 20 ms of CPU since mark.
# A pool thread that spins shows state R and gains CPU time at once.
set -u
what=$1
pid=$2
state="${TMPDIR:-/tmp}/lmm_blas_threads.$pid"

# "tid ticks" for every thread but the main one (utime + stime, in ticks).
threads() {
	local t f
	for t in /proc/"$pid"/task/*; do
		t=${t##*/}
		[ "$t" = "$pid" ] && continue
		f=$(sed 's/^.*) //' /proc/"$pid"/task/"$t"/stat 2>/dev/null) || continue
		set -- $f
		echo "$t $(( ${12} + ${13} ))"
	done
}

case "$what" in
count)
	if [ "$(threads | wc -l)" -eq 0 ]; then
		echo "threads besides the backend's own: none"
	else
		echo "threads besides the backend's own: some"
	fi
	;;
mark)
	threads >"$state"
	echo "marked"
	;;
check)
	hz=$(getconf CLK_TCK)
	busy=0
	for i in 1 2 3 4 5; do
		for t in $(threads | cut -d' ' -f1); do
			s=$(sed 's/^.*) //' /proc/"$pid"/task/"$t"/stat 2>/dev/null | cut -d' ' -f1)
			[ "$s" = R ] && busy=1
		done
		sleep 0.1
	done
	gained=0
	while read -r t ticks; do
		before=$(awk -v t="$t" '$1 == t { print $2 }' "$state")
		[ -n "$before" ] && [ $(( ticks - before )) -gt "$gained" ] && gained=$(( ticks - before ))
	done < <(threads)
	rm -f "$state"
	if [ $busy -eq 0 ] && [ $(( gained * 1000 / hz )) -le 20 ]; then
		echo "BLAS pool threads: asleep, idle during the fit"
	else
		echo "BLAS pool threads: running (state R: $busy, most CPU gained: $(( gained * 1000 / hz )) ms)"
	fi
	;;
*)
	echo "usage: blas_threads.sh count|mark|check PID" >&2
	exit 2
	;;
esac
