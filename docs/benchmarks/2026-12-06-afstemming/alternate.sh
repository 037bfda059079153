#!/bin/sh
# The suite's quick figures from two checkouts in turn (base, new, base, new, ...), each with
# its own virtual environment (make install). Run from a folder holding the checkouts `base`
# and `new`:  OUT=/tmp/alt ./alternate.sh ROUNDS
out=${OUT:-bench-alternate}
rounds=${1:-3}
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for v in base new; do
    echo "round $round $v start $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.log"
    (cd "$v" && .venv/bin/python -m scripts.bench.run --quick --duration 12 --levels 32 --scale 0 \
      --backends sqlite,postgresql --scaleout 0 --webhook-matches 0 --sqlite-rows 100000 \
      --out "$out/r$round-$v") > "$out/r$round-$v.log" 2>&1 || echo "FAILED $round $v" >> "$out/load.log"
    echo "round $round $v end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.log"
  done
done
