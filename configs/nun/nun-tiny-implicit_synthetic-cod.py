# NUN-tiny ablation (paper Tab. 12): the "implicit" degradation prior, DeRUN's
# {sigma, mu} learned directly instead of from DA-CLIP, so no VLM runs and no
# DA-CLIP checkpoint is needed. Same data and schedule as
# nun-tiny_synthetic-cod.py (results in configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
model = dict(prior=None, backbone=dict(inner_cfg=dict(prior_dim=None)))
