#!/bin/sh
# The suite's registration (32 clients, SQLite and PostgreSQL) and bulk points, run from three
# checkouts in turn (A, B, C, A, B, C, ...), each with its own virtual environment.
#   usage: alternate.sh OUT_DIR ROUNDS [FIRST]   (rounds FIRST..ROUNDS, FIRST defaults to 1;
#          touch OUT_DIR/stop to end after the current round)
# A, B and C are checkouts of the commits compared, each with its own .venv (make install),
# given as environment variables: A=/path/to/a B=/path/to/b C=/path/to/c alternate.sh OUT 7
# The suite that runs is each checkout's own.
set -eu
out=$1
rounds=$2
first=${3:-1}
mkdir -p "$out"
for round in $(seq "$first" "$rounds"); do
    for v in a b c; do
        case $v in a) tree=$A ;; b) tree=$B ;; c) tree=$C ;; esac
        dir=$out/r$round-$v
        {
            printf 'round %s variant %s commit %s\n' "$round" "$v" "$(git -C "$tree" rev-parse HEAD)"
            printf 'start %s  %s\n' "$(date -u +%FT%TZ)" "$(uptime)"
        } >>"$out/load.log"
        (cd "$tree" && .venv/bin/python -m scripts.bench.run --quick --duration 12 --levels 32 \
            --scale 0 --backends sqlite,postgresql --scaleout 0 --webhook-matches 0 \
            --sqlite-rows 100000 --out "$dir") >"$out/r$round-$v.log" 2>&1 \
            || printf 'FAILED round %s variant %s\n' "$round" "$v" >>"$out/load.log"
        printf 'end   %s  %s\n' "$(date -u +%FT%TZ)" "$(uptime)" >>"$out/load.log"
    done
    [ -e "$out/stop" ] && break
done
echo done >>"$out/load.log"
