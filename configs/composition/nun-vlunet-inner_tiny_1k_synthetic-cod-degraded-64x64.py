# NUN-tiny with VLU-Net's hierarchical proximal-gradient restorer as its
# inner unfolding in place of DeRUN (VLUNetInnerRestorer,
# dunseg/models/unfolding/inner_adapters.py): in every SODUN stage one
# VLU-Net-tiny pass restores the stage's input, its last N_k stages
# (N = 4, 3, 3, 2, coarse to fine) are NUN's candidates, and the learned
# quality selector picks one, as it picks among DeRUN's iterates. The
# DA-CLIP degradation vector selects VLU-Net's degradation key instead of
# modulating DeRUN's operators; DeRUN's cue term on the mask, background
# and degraded input is kept (cue_channels), starting at zero.
#
# Parent: configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py (same
# encoder, SODUN, prior, selector, losses, data and schedule). Train it as
# the parent (after the tiny DA-CLIP, configs/daclip):
#   python tools/train.py configs/composition/nun-vlunet-inner_tiny_1k_synthetic-cod-degraded-64x64.py \
#       --cfg-options model.prior.daclip_pretrained=$(ls work_dirs/daclip-tiny/best_*.pth)
_base_ = ['../nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(
    backbone=dict(
        inner_cfg=dict(
            _delete_=True,
            type='VLUNetInnerRestorer',
            cue_channels=8,
            backbone=dict(
                type='VLUNet',
                # one key per NUN training condition: clean, low light,
                # haze, low resolution, their combination
                de_dim=5,
                dim=8, num_blocks=(1, 1, 1, 1), num_refinement_blocks=1,
                heads=(1, 1, 2, 2), prior_dim=64, key_spatial_base=64,
                prompt_dim_base=2,
                # every candidate starts as the stage input, as DeRUN's
                zero_init_output=True,
                separate_y_downsampler=True))),
    # VLU-Net's 5-d key database has no channels-last layout
    channels_last=False)
