# NUN-tiny with a departure from the paper: DeRUN's data term compares
# RC_D(X) with the degraded input Y instead of the stage's input X_{k-1}
# (DeRUN's data_anchor, dunseg/models/unfolding/nested.py). Tried against the
# low-resolution split, where DeRUN's restorations fall below their input.
# Same data and schedule as nun-tiny_synthetic-cod.py (results in
# configs/nun/README.md).
_base_ = ['./nun-tiny_synthetic-cod.py']
model = dict(
    backbone=dict(inner_cfg=dict(data_anchor='degraded_input')))
