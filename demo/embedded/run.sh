#!/usr/bin/env bash
# RUN-tiny against the FPN encoder-decoder of its size, end to end (what
# `make demo-run` runs), with the same encoder, data and schedule:
# 1. train RUN-tiny and the FPN baseline on SyntheticCOD scenes (1,400
#    iterations each),
# 2. test both on the clean split and its four medium degradations,
# 3. print S_alpha / MAE per split side by side,
# 4. run both demos on a low-light scene.
# Usage: bash demo/embedded/run.sh PYTHON WORK_DIR
# RUN_CONFIG / FPN_CONFIG / DEMO_IMAGE override the defaults; TRAIN_OPTIONS
# (e.g. "train_cfg.max_iters=200 train_cfg.val_interval=100") is passed to
# both trainings as --cfg-options.
set -euo pipefail
PY=${1:-python}
WORK_DIR=${2:-work_dirs/run_demo}
RUN_CONFIG=${RUN_CONFIG:-configs/run/run_tiny_1.4k_synthetic-cod-64x64.py}
FPN_CONFIG=${FPN_CONFIG:-configs/sem_fpn/fpn_tiny_1.4k_synthetic-cod-64x64.py}
DEMO_IMAGE=${DEMO_IMAGE:-demo/demo_cod_lowlight.png}
TRAIN_OPTIONS=${TRAIN_OPTIONS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$(date +%s)
mkdir -p "$WORK_DIR"

# shellcheck disable=SC2086  # TRAIN_OPTIONS is a list of key=value words
for name in run fpn; do
    if [ "$name" = run ]; then config=$RUN_CONFIG; else config=$FPN_CONFIG; fi
    "$PY" tools/train.py "$config" --work-dir "$WORK_DIR/$name" \
        ${TRAIN_OPTIONS:+--cfg-options $TRAIN_OPTIONS}
    ckpt=$(cat "$WORK_DIR/$name/last_checkpoint")
    "$PY" tools/test.py "$config" "$ckpt" --work-dir "$WORK_DIR/test_$name" \
        --show-dir vis --vis-interval 50 2>&1 | tee "$WORK_DIR/test_$name.log"
    "$PY" demo/image_demo.py "$DEMO_IMAGE" "$config" "$ckpt" \
        --out-file "$WORK_DIR/demo_$name.png" | tee "$WORK_DIR/demo_$name.log"
done
RUN_CKPT=$(cat "$WORK_DIR/run/last_checkpoint")
FPN_CKPT=$(cat "$WORK_DIR/fpn/last_checkpoint")
RUN_METRICS=$(ls "$WORK_DIR"/test_run/*/*.json | tail -n 1)
FPN_METRICS=$(ls "$WORK_DIR"/test_fpn/*/*.json | tail -n 1)

echo
echo "================ dunseg embedded RUN demo ================"
"$PY" - "$RUN_METRICS" "$FPN_METRICS" <<'PYEOF'
import json
import sys
run, fpn = (json.load(open(path)) for path in sys.argv[1:3])
# the clean split first, then its degradations
sets = sorted({k.split('/')[0] for k in run if k.endswith('/Sm')},
              key=lambda name: (name != 'SyntheticCOD', name))
print(f'{"":34s} {"RUN-tiny":>16s} {"FPN (same size)":>16s}')
print(f'{"test set":34s} {"S_alpha":>8s} {"MAE":>7s} {"S_alpha":>8s} '
      f'{"MAE":>7s}')
for name in sets:
    print(f'{name:34s} {run[name + "/Sm"]:8.4f} {run[name + "/MAE"]:7.4f} '
          f'{fpn[name + "/Sm"]:8.4f} {fpn[name + "/MAE"]:7.4f}')
PYEOF
echo "RUN checkpoint:    $RUN_CKPT"
echo "FPN checkpoint:    $FPN_CKPT"
echo "RUN metrics:       $RUN_METRICS"
echo "FPN metrics:       $FPN_METRICS"
echo "test pictures:     $(ls -d "$WORK_DIR"/test_run/*/vis 2>/dev/null | tail -n 1)"
echo "                   $(ls -d "$WORK_DIR"/test_fpn/*/vis 2>/dev/null | tail -n 1)"
echo "RUN demo picture:  $WORK_DIR/demo_run.png"
echo "FPN demo picture:  $WORK_DIR/demo_fpn.png"
echo "training logs:     $(ls "$WORK_DIR"/run/*/*.log | head -n 1)"
echo "                   $(ls "$WORK_DIR"/fpn/*/*.log | head -n 1)"
echo "wall time:         $(( ($(date +%s) - start) / 60 )) min"
