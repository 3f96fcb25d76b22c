# NUN-tiny ablation (paper Tab. 11): no cross-stage consistency loss L_csc;
# selection between DeRUN iterates stays. Same data and schedule as
# nun-tiny_synthetic-cod.py (results in configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
model = dict(consistency_loss=None)
