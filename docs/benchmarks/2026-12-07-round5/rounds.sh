#!/bin/sh
out=${OUT:-bench-rounds}
for round in 1 2 3 4; do
  echo "round $round start $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.log"
  .venv/bin/python -m scripts.bench.run --quick --duration 12 --levels 32 --scale 0 \
      --backends sqlite,postgresql --scaleout 0 --webhook-matches 0 --sqlite-rows 100000 \
      --out "$out/r$round" > "$out/r$round.log" 2>&1 || echo "FAILED $round" >> "$out/load.log"
  echo "round $round end $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.log"
done
