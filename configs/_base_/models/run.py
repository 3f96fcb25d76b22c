# RUN (ICML 2025): ResNet-50 encoder, RUN unfolding at 192 channels (the
# width of the official Train.py / Test.py), RUN's losses (Train.py).
# Parameters: 66,057,263 without the two VSS blocks (the official network's
# registered modules minus the ones it never calls: 79,154,124 = 79.15 M),
# + 564,550 (VSS_s) + 383,142 (VSS_l) + 1,748 (RSS head and its fusion conv).
# No weights are downloaded: set model.encoder.pretrained to a local ImageNet
# ResNet-50 file (torchvision resnet50-0676ba61.pth or timm's resnet50).
model = dict(
    type='CODSegmentor',
    # ImageNet normalisation of the [0, 1] images PackCODInputs produces
    data_preprocessor=dict(
        type='DunSegDataPreprocessor',
        mean=[0.485, 0.456, 0.406],
        std=[0.229, 0.224, 0.225],
        in_channels=3),
    encoder=dict(type='ResNetEncoder', depth=50, pretrained=None),
    backbone=dict(
        type='RUN',
        channels=192,
        # ln_1_eps: RUN builds VSSBlock(hidden_dim) with LayerNorm eps 1e-6
        # before SS2D (ChunmingHe/RUN, lib/Modules.py)
        vss_cfg=dict(type='VSSBlock', d_state=16, expand=2.0, d_conv=3,
                     ln_1_eps=1e-6),
        # where the official code (ChunmingHe/RUN, lib/Network.py) departs
        # from the paper or breaks; the defaults fix it (the flags are
        # described in dunseg/models/unfolding/run.py):
        mask_as='probability',      # official: 'logits'
        ss_flatten='permute',       # official: 'view' (scrambles the map)
        ss_weight_norm='image',     # official: 'batch'
        rebuild_vss_each_call=False,  # official: True (untrained VSS)
        large_field_cab='run'),
    # structure loss on M_0 (prior) and stages 4..1: 1/16, 1/8, 1/4, 1/2, 1
    mask_loss=dict(type='StructureLoss'),
    stage_loss_weights=(1 / 16, 1 / 8, 1 / 4, 1 / 2, 1),
    # Dice on the edges of stages 3, 2, 1 (stage 4's edge is unsupervised)
    edge_loss=dict(type='DiceLoss', smooth=1.0, exponent=2.0),
    edge_loss_weights=(0, 0, 1 / 8, 1 / 4, 1 / 2),
    # 2 x UAL, ramped by (1 - cos(pi i / N)) / 2 within each epoch
    uncertainty_loss=dict(type='UncertaintyAwareLoss', loss_weight=2.0),
    # Official: computed and logged, not added. Switch on with e.g.
    # reconstruction_loss=dict(type='MSELoss', loss_name='loss_rec')
    reconstruction_loss=None,
    reconstruction_loss_weights=(0, 1 / 8, 1 / 4, 1 / 2, 1),
    threshold=0.5)
# DDP (tools/dist_train.sh): without a reconstruction loss the background
# reconstruction net and lam get no gradient, nor does the unsupervised edge
# branch of stage 4's reverse-attention unit
find_unused_parameters = True
