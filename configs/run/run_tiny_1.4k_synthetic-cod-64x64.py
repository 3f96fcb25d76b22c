# A tiny RUN that trains on the embedded SyntheticCOD data (no files needed)
# in minutes on a CPU: ResNet-18 encoder at width 16 (16/32/64/128 channels),
# RUN at 32 channels with all its modules (RSC, RSS with two VSS blocks,
# reverse-attention edge units, ROBE), 64 x 64 images, randomly initialised.
#
#   python tools/train.py configs/run/run_tiny_1.4k_synthetic-cod-64x64.py
#
# Batch size 8 per process; 1,400 iterations (5.6 epochs of the 2,000 training
# images); test on the clean split and its four medium degradations. Speed
# measured here with OMP_NUM_THREADS=1 on a shared 2-core machine (load 7-11):
# 1.0-2.3 s per iteration, so the run takes 25-50 minutes; the
# full-resolution background U-net dominates (docs/benchmarks.md).
_base_ = [
    '../_base_/models/run.py', '../_base_/datasets/synthetic_cod_64x64.py',
    '../_base_/schedules/schedule_1.4k_adam_cosine.py'
]

model = dict(
    encoder=dict(type='ResNetEncoder', depth=18, base_channels=16,
                 pretrained=None),
    backbone=dict(channels=32, sparsity_channels=16, background_channels=8),
    # UAL ramp over one epoch of the iteration-based loop (250 iterations)
    uncertainty_loss=dict(ramp_iters=250))
randomness = dict(seed=0)
