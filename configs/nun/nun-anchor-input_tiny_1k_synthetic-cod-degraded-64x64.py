# NUN-tiny with a departure from the paper: DeRUN's data term compares
# RC_D(X) with the degraded input Y instead of the stage's input X_{k-1}
# (DeRUN's data_anchor, dunseg/models/unfolding/derun.py). Tried against the
# low-resolution split, where DeRUN's restorations fall below their input;
# measured, it leaves that split where it was (19.34 dB) and costs the
# masks (Sα / MAE 0.506 / 0.185 against 0.519 / 0.154).
# Same data and schedule as nun_tiny_1k_synthetic-cod-degraded-64x64.py (results in
# configs/nun/README.md).
_base_ = ['./nun_tiny_1k_synthetic-cod-degraded-64x64.py']
model = dict(
    backbone=dict(inner_cfg=dict(data_anchor='degraded_input')))
