# NUN-tiny ablation (paper Tab. 12): the "implicit" degradation prior, DeRUN's
# {sigma, mu} learned directly instead of from DA-CLIP, so no VLM runs and no
# DA-CLIP checkpoint is needed. Same data and schedule as
# nun_tiny_1k_synthetic-cod-degraded-64x64.py (results in configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(prior=None, backbone=dict(inner_cfg=dict(prior_dim=None)))
