#!/usr/bin/env bash
# Train -> test -> demo on the embedded synthetic infrared dataset.
# Usage: bash demo/embedded/rpcanet.sh PYTHON CONFIG WORK_DIR
set -euo pipefail
PY=${1:-python}
CONFIG=${2:-configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py}
WORK_DIR=${3:-work_dirs/demo}
BASELINE=configs/baselines/tophat_disk5_notrain_synthetic-sirst-128x128.py

"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --show-dir vis --vis-interval 20 2>&1 | tee "$WORK_DIR/test.log"
"$PY" tools/test.py "$BASELINE" --work-dir "$WORK_DIR/baseline" \
    2>&1 | tee "$WORK_DIR/baseline.log"
"$PY" demo/image_demo.py demo/demo_ir.png "$CONFIG" "$CKPT" \
    --out-file "$WORK_DIR/demo_result.png"

summary() { grep -E "IoU: " "$1" | tail -n 1 | sed 's/.*Iter(test)[^ ]* *//'; }
echo
echo "================ dunseg embedded demo ================"
echo "checkpoint:        $CKPT"
echo "RPCANet+ metrics:  $(summary "$WORK_DIR/test.log")"
echo "top-hat baseline:  $(summary "$WORK_DIR/baseline.log")"
echo "metrics (json):    $(ls -d "$WORK_DIR"/test/*/*.json 2>/dev/null | tail -n 1)"
echo "test pictures:     $(ls -d "$WORK_DIR"/test/*/vis 2>/dev/null | tail -n 1)"
echo "demo picture:      $WORK_DIR/demo_result.png"
echo "training log:      $(ls -d "$WORK_DIR"/*/*.log 2>/dev/null | head -n 1)"
