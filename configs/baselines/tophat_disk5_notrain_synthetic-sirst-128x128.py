# Classical white top-hat detector (disk radius 5, threshold mean + 8 sigma), evaluated
# with the same ISTDMetric on the synthetic test split as the learned models:
#   python tools/test.py configs/baselines/tophat_disk5_notrain_synthetic-sirst-128x128.py
_base_ = [
    '../_base_/datasets/synthetic_sirst.py', '../_base_/default_runtime.py'
]
model = dict(type='TopHatDetector', radius=5, k=8.0)
test_cfg = dict(type='TestLoop')
# only the visualization hook (tools/test.py --show-dir); the training
# hooks of default_runtime.py have nothing to do here
default_hooks = dict(
    _delete_=True, visualization=dict(type='DunSegVisualizationHook'))
# nothing to train
train_dataloader = None
val_dataloader = None
val_evaluator = None
