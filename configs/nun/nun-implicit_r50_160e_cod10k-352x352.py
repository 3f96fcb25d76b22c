# NUN-R50 with the "implicit" degradation prior (paper Tab. 12): DeRUN's
# {sigma, mu} are learned directly instead of from DA-CLIP, so no VLM runs.
_base_ = ['./nun_r50_160e_cod10k-352x352.py']
model = dict(prior=None, backbone=dict(inner_cfg=dict(prior_dim=None)))
