#!/usr/bin/env bash
# The VLU-Net recipe on the embedded synthetic degradations, end to end:
# 1. fine-tune the tiny CLIP's adapters to recognise the degradation types,
# 2. train the tiny VLU-Net guided by that CLIP, 3. test it (PSNR/SSIM per
# degradation beside the degraded input's), 4. run the demo.
# Usage: bash demo/embedded/vlunet.sh PYTHON WORK_DIR
set -euo pipefail
PY=${1:-python}
WORK_DIR=${2:-work_dirs/vlunet_demo}
CLIP_CONFIG=configs/vlunet/clip-adapter_tiny_12e_synthetic-degradation-64x64.py
CONFIG=configs/vlunet/vlunet_tiny_5k_synthetic-degradation-64x64.py
# one OpenMP thread per process keeps a 2-core machine from oversubscribing
# when the data workers run beside the trainer
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

OMP_NUM_THREADS=1 "$PY" tools/train.py "$CLIP_CONFIG" --work-dir "$WORK_DIR/clip"
CLIP_CKPT=$(ls "$WORK_DIR"/clip/best_accuracy_*.pth | tail -n 1)
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR/vlunet" \
    --cfg-options "model.prior_checkpoint=$CLIP_CKPT"
CKPT=$(cat "$WORK_DIR/vlunet/last_checkpoint")
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --show-dir vis --vis-interval 20 2>&1 | tee "$WORK_DIR/test.log"
"$PY" demo/image_demo.py demo/demo_rain.png "$CONFIG" "$CKPT" \
    --out-file "$WORK_DIR/demo_result.png"

echo
echo "================ dunseg embedded VLU-Net demo ================"
echo "CLIP adapters:     $CLIP_CKPT"
echo "VLU-Net:           $CKPT"
echo "metrics (json):    $(ls -d "$WORK_DIR"/test/*/*.json 2>/dev/null | tail -n 1)"
echo "test pictures:     $(ls -d "$WORK_DIR"/test/*/vis 2>/dev/null | tail -n 1)"
echo "demo picture:      $WORK_DIR/demo_result.png"
