# NUN-tiny ablation (paper Tab. 11, "w/o BUI selection"): every SODUN stage
# takes DeRUN's last iterate instead of the one the quality selector scores
# best; L_csc then ties the last and the second-to-last iterates. Same data
# and schedule as nun_tiny_1k_synthetic-cod-degraded-64x64.py (results in configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(selector=dict(_delete_=True, type='LastSelector'))
