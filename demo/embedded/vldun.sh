#!/usr/bin/env bash
# VL-DUN on the embedded medical phantoms, end to end (what `make demo-vldun`
# runs), the recipe of configs/vldun/README.md:
# 1. tune the tiny CLIP dual prior (modality and k-space pattern),
# 2. train VL-DUN-tiny with that prior, and the U-Net of its trained size on
#    the degraded slices alone,
# 3. test both (PSNR / SSIM of the restoration beside the zero-filled
#    input's, Dice of the segmentation),
# 4. run the demo on a real CT slice: pydicom's CT_small.dcm after the
#    training's radial 4x k-space undersampling (demo/demo_ct_undersampled.png,
#    made by demo/generate_demo_image.py --kind ct). DEMO_IMAGE may name a
#    DICOM, NIfTI, PNG or .npy slice instead; it is read as the network's
#    input, i.e. as already undersampled.
# Usage: bash demo/embedded/vldun.sh PYTHON WORK_DIR
# PRIOR_CONFIG / VLDUN_CONFIG / UNET_CONFIG / DEMO_IMAGE override the
# defaults; TRAIN_OPTIONS (e.g. "train_cfg.max_iters=100") is passed to the
# VL-DUN and U-Net trainings as --cfg-options.
set -euo pipefail
PY=${1:-python}
WORK_DIR=${2:-work_dirs/vldun_demo}
PRIOR_CONFIG=${PRIOR_CONFIG:-configs/vldun/clip-dual-prior_tiny_0.5k_synthetic-phantom-64x64.py}
VLDUN_CONFIG=${VLDUN_CONFIG:-configs/vldun/vldun_tiny_0.6k_synthetic-phantom-64x64.py}
UNET_CONFIG=${UNET_CONFIG:-configs/unet/unet_tiny_0.6k_synthetic-phantom-64x64.py}
DEMO_IMAGE=${DEMO_IMAGE:-demo/demo_ct_undersampled.png}
TRAIN_OPTIONS=${TRAIN_OPTIONS:-}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
start=$(date +%s)
mkdir -p "$WORK_DIR"

"$PY" tools/train.py "$PRIOR_CONFIG" --work-dir "$WORK_DIR/prior"
PRIOR_CKPT=$(cat "$WORK_DIR/prior/last_checkpoint")
# shellcheck disable=SC2086  # TRAIN_OPTIONS is a list of key=value words
"$PY" tools/train.py "$VLDUN_CONFIG" --work-dir "$WORK_DIR/vldun" \
    --cfg-options "model.prior_checkpoint=$PRIOR_CKPT" $TRAIN_OPTIONS
# shellcheck disable=SC2086
"$PY" tools/train.py "$UNET_CONFIG" --work-dir "$WORK_DIR/unet" \
    ${TRAIN_OPTIONS:+--cfg-options $TRAIN_OPTIONS}
VLDUN_CKPT=$(cat "$WORK_DIR/vldun/last_checkpoint")
UNET_CKPT=$(cat "$WORK_DIR/unet/last_checkpoint")
"$PY" tools/test.py "$VLDUN_CONFIG" "$VLDUN_CKPT" \
    --work-dir "$WORK_DIR/test_vldun" --show-dir vis --vis-interval 50 \
    2>&1 | tee "$WORK_DIR/test_vldun.log"
"$PY" tools/test.py "$UNET_CONFIG" "$UNET_CKPT" \
    --work-dir "$WORK_DIR/test_unet" 2>&1 | tee "$WORK_DIR/test_unet.log"
"$PY" demo/image_demo.py "$DEMO_IMAGE" "$VLDUN_CONFIG" "$VLDUN_CKPT" \
    --out-file "$WORK_DIR/demo_result.png" | tee "$WORK_DIR/demo.log"
VLDUN_METRICS=$(ls "$WORK_DIR"/test_vldun/*/*.json | tail -n 1)
UNET_METRICS=$(ls "$WORK_DIR"/test_unet/*/*.json | tail -n 1)

echo
echo "================ dunseg embedded VL-DUN demo ================"
"$PY" - "$VLDUN_METRICS" "$UNET_METRICS" <<'PYEOF'
import json
import sys
vldun, unet = (json.load(open(path)) for path in sys.argv[1:3])
keys = ('PSNR', 'PSNR_CT', 'PSNR_MRI', 'SSIM', 'SSIM_CT', 'SSIM_MRI')


def cells(metrics, prefix=''):
    out = []
    for key in keys:
        value = metrics.get(prefix + key)
        digits = 2 if key.startswith('PSNR') else 4
        out.append(f'{value:8.{digits}f}' if value is not None
                   else f'{"-":>8s}')
    dice = metrics.get('Dice') if not prefix else None
    out.append(f'{dice:7.4f}' if dice is not None else f'{"-":>7s}')
    return ' '.join(out)


print(f'{"":22s} ' + ' '.join(f'{k:>8s}' for k in keys) + f' {"Dice":>7s}')
print(f'{"zero-filled input":22s} ' + cells(vldun, 'input_'))
print(f'{"VL-DUN-tiny":22s} ' + cells(vldun))
print(f'{"U-Net (same size)":22s} ' + cells(unet))
PYEOF
echo "dual prior:        $PRIOR_CKPT"
echo "VL-DUN checkpoint: $VLDUN_CKPT"
echo "U-Net checkpoint:  $UNET_CKPT"
echo "VL-DUN metrics:    $VLDUN_METRICS"
echo "U-Net metrics:     $UNET_METRICS"
echo "test pictures:     $(ls -d "$WORK_DIR"/test_vldun/*/vis 2>/dev/null | tail -n 1)"
echo "demo picture:      $WORK_DIR/demo_result.png ($DEMO_IMAGE)"
echo "training logs:     $(ls "$WORK_DIR"/vldun/*/*.log | head -n 1)"
echo "                   $(ls "$WORK_DIR"/unet/*/*.log | head -n 1)"
echo "wall time:         $(( ($(date +%s) - start) / 60 )) min"
