#!/usr/bin/env bash
# NUN on the embedded data, end to end (what `make demo` runs):
# 1. train the tiny DA-CLIP degradation prior,
# 2. train NUN-tiny on degraded SyntheticCOD scenes guided by it,
# 3. test it on the clean split and its four medium degradations (COD
#    metrics per set; its restorations against the degraded input),
# 4. run the demo on a low-light scene (mask, selected restoration, stages).
# Usage: bash demo/embedded/nun.sh PYTHON WORK_DIR
# DACLIP_CONFIG / NUN_CONFIG / DEMO_IMAGE override the defaults;
# TRAIN_OPTIONS (e.g. "train_cfg.max_iters=200") is passed to the NUN
# training as --cfg-options.
set -euo pipefail
PY=${1:-python}
WORK_DIR=${2:-work_dirs/nun_demo}
DACLIP_CONFIG=${DACLIP_CONFIG:-configs/daclip/daclip_tiny_6e_synthetic-degradation-64x64.py}
NUN_CONFIG=${NUN_CONFIG:-configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py}
DEMO_IMAGE=${DEMO_IMAGE:-demo/demo_cod_lowlight.png}
TRAIN_OPTIONS=${TRAIN_OPTIONS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$(date +%s)

"$PY" tools/train.py "$DACLIP_CONFIG" --work-dir "$WORK_DIR/daclip"
DACLIP_CKPT=$(ls "$WORK_DIR"/daclip/best_*.pth | tail -n 1)
# shellcheck disable=SC2086  # TRAIN_OPTIONS is a list of key=value words
"$PY" tools/train.py "$NUN_CONFIG" --work-dir "$WORK_DIR/nun" \
    --cfg-options "model.prior.daclip_pretrained=$DACLIP_CKPT" $TRAIN_OPTIONS
CKPT=$(cat "$WORK_DIR/nun/last_checkpoint")
"$PY" tools/test.py "$NUN_CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" \
    --show-dir vis --vis-interval 50 2>&1 | tee "$WORK_DIR/test.log"
"$PY" demo/image_demo.py "$DEMO_IMAGE" "$NUN_CONFIG" "$CKPT" \
    --out-file "$WORK_DIR/demo_result.png" | tee "$WORK_DIR/demo.log"

METRICS=$(ls "$WORK_DIR"/test/*/*.json | tail -n 1)
echo
echo "================ dunseg embedded NUN demo ================"
"$PY" - "$METRICS" <<'PYEOF'
import json
import sys
metrics = json.load(open(sys.argv[1]))
sets = [k[:-len('/Sm')] for k in metrics
        if k.endswith('/Sm') and k.count('/') == 1]
print(f'{"test set":34s} {"S_alpha":>8s} {"MAE":>7s}   centre-Gaussian '
      'map   all-zero map')
for name in sets:
    row = f'{name:34s} {metrics[name + "/Sm"]:8.4f} {metrics[name + "/MAE"]:7.4f}'
    for base in ('centre-gaussian', 'all-zero'):
        if f'{name}/{base}/Sm' in metrics:
            row += (f'   {metrics[f"{name}/{base}/Sm"]:.4f} / '
                    f'{metrics[f"{name}/{base}/MAE"]:.4f}')
    print(row)
groups = [k[len('PSNR_'):] for k in metrics
          if k.startswith('PSNR_') and f'input_{k}' in metrics]
if groups:
    print(f'restorations (PSNR / SSIM) against the input, per group:')
    for g in groups:
        print(f'  {g:32s} {metrics["PSNR_" + g]:6.2f} / '
              f'{metrics["SSIM_" + g]:.3f}   input '
              f'{metrics["input_PSNR_" + g]:6.2f} / '
              f'{metrics["input_SSIM_" + g]:.3f}')
degraded = [g for g in groups if g in ('lowlight', 'haze', 'lowres',
                                        'combined')]
if degraded:  # the sets are the same size: the mean of their means

    def mean(key):
        return sum(metrics[f'{key}_{g}'] for g in degraded) / len(degraded)

    print(f'restorations of the degraded sets: PSNR {mean("PSNR"):.2f} dB '
          f'(degraded input {mean("input_PSNR"):.2f} dB), SSIM '
          f'{mean("SSIM"):.3f} (input {mean("input_SSIM"):.3f})')
PYEOF
echo "DA-CLIP prior:     $DACLIP_CKPT"
echo "NUN checkpoint:    $CKPT"
echo "metrics (json):    $METRICS"
echo "test pictures:     $(ls -d "$WORK_DIR"/test/*/vis 2>/dev/null | tail -n 1)"
echo "demo picture:      $WORK_DIR/demo_result.png"
echo "training log:      $(ls "$WORK_DIR"/nun/*/*.log | head -n 1)"
echo "wall time:         $(( ($(date +%s) - start) / 60 )) min"
