# Embedded default: a small VL-DUN trained on the procedural phantoms
# (configs/_base_/datasets/synthetic_phantom.py: CT-like with radial and
# MR-like with Cartesian k-space undersampling, 4 classes) at 64x64 on a
# 2-core CPU, guided by a tiny random-init CLIP dual prior (tune it first
# with vldun-tiny-prior_synthetic-phantom.py and pass its checkpoint as
# model.prior_checkpoint). Architecture as the default VL-DUN (8 AMGDM +
# MDPMM stages over 4 levels, dual-prior cross-attention, Bi-Mamba Phi^T,
# frequency-split proximal, Rec. + Seg. Heads); only the widths are small.
#   python tools/train.py configs/vldun/vldun-tiny_synthetic-phantom.py
# Ablations (Table 3), each a config with this one's data and schedule:
#   w/o FD:        vldun-tiny_synthetic-phantom_wo-fd.py
#   w/o Seg Head:  vldun-tiny_synthetic-phantom_wo-seghead.py (keeps the
#                  best checkpoint by PSNR: --cfg-options model.seg_head=None
#                  alone stops at the first validation, which has no Dice)
#   w/o CLIP:      vldun-tiny_synthetic-phantom_wo-clip.py
#   known operator (--cfg-options): model.prior=None
#                  model.backbone.use_prior=False
#                  model.backbone.physical_operator=True
# Comparisons (configs/vldun/README.md): a U-Net of the same size on the
# degraded slices (configs/unet/unet-tiny_synthetic-phantom.py) and the
# sequential pipeline (vldun-tiny_synthetic-phantom_restore-then-segment.py).
# 5,207,019 parameters, 1,818,728 of them trained (the CLIP dual prior,
# 3,388,291, is frozen here).
_base_ = [
    '../_base_/models/vldun.py',
    '../_base_/datasets/synthetic_phantom.py',
    '../_base_/default_runtime.py'
]
img_size = 64
tiny_clip = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=img_size, layers=2, width=64, patch_size=8,
                    head_width=32),
    text_cfg=dict(context_length=16, width=64, heads=2, layers=2))
model = dict(
    prior=dict(
        clip_model=dict(tiny_clip, _delete_=True),
        pretrained=None,
        input_size=img_size,
        modality_classes=('PhantomCT', 'PhantomMRI'),
        degradation_classes=('radial', 'cartesian')),
    backbone=dict(
        dim=16, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
        heads=(1, 1, 2, 2), prior_dim=64, tokens_per_prior=2,
        mamba_cfg=dict(d_state=8, expand=2),
        # start from the identity: restored = zero-filled input
        zero_init_output=True),
    seg_head=dict(num_classes=4, channels=32),
    return_stages=True)

train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(img_size=img_size, num_samples=2000))
val_dataloader = dict(
    num_workers=1, dataset=dict(img_size=img_size, num_samples=100))
test_dataloader = dict(
    num_workers=1, dataset=dict(img_size=img_size, num_samples=200))

# measured on the shared 2-core CPU (one thread, other jobs running):
# 3.6-7.5 s per iteration at batch 8, so 600 iterations take about 40-75
# minutes (47 in our run). With the tuned prior, the 600 iterations give on
# the test split PSNR 30.21 / 25.95 dB (CT / MRI) against 27.81 / 20.51 for
# the zero-filled input, SSIM 0.843 / 0.831 against 0.684 / 0.605, and Dice
# 0.710 (configs/vldun/README.md)
max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, begin=0, end=50,
         by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=1e-6, begin=50, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300,
                    max_keep_ckpts=2, save_best='Dice', rule='greater'),
    # tools/test.py --show-dir: input | restored | segmentation, stages
    visualization=dict(type='DunSegVisualizationHook'))
log_processor = dict(by_epoch=False)
