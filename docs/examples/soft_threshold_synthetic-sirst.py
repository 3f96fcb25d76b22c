# Uses the user's own stage through custom_imports; run from the dunseg root
# with the example package on PYTHONPATH:
#   PYTHONPATH=docs/examples python tools/train.py \
#       docs/examples/soft_threshold_synthetic-sirst.py
_base_ = [
    '../../configs/rpcanet/rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py'
]
custom_imports = dict(
    imports=['my_dun_ext.soft_threshold_stage'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        _delete_=True,
        type='RPCAUnfolding',
        num_stages=3,
        stage_cfg=dict(type='SoftThresholdRPCAStage', kernel_size=7)),
    # the stage keeps D fixed, so the data-fidelity loss is meaningless here
    reconstruction_loss=None)
