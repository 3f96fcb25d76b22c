# NUN-tiny ablation (paper Tab. 11): no cross-stage consistency loss L_csc;
# selection between DeRUN iterates stays. Same data and schedule as
# nun_tiny_1k_synthetic-cod-degraded-64x64.py (results in configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(consistency_loss=None)
