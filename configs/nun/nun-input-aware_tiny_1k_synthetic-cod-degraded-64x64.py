# NUN-tiny with a departure from the paper in BUI: every stage's input is a
# candidate too (NUN(select_stage_input=True)), and the selector scores each
# candidate beside the degraded input Y (InputAwareQualitySelector, offline,
# weights shipped; fitted with tone errors like DeRUN-tiny's) instead of
# alone. Measured in configs/nun/README.md ("A selector that sees the input").
_base_ = './nun_tiny_1k_synthetic-cod-degraded-64x64.py'

model = dict(
    backbone=dict(select_stage_input=True),
    selector=dict(type='InputAwareQualitySelector'))
