# RUN-tiny trained on degraded SyntheticCOD images (low light, haze, low
# resolution or their combination, at any level): the baseline of NUN's
# central claim, with the same encoder, data, schedule and test splits as
# configs/nun/nun-tiny_synthetic-cod.py, which inherits this recipe.
#
# The recipe: two epochs (500 iterations) on the clean images, then half
# clean, half degraded. From random weights on the degraded images alone the
# tiny networks collapse to one image-independent mask (CleanWarmupHook).
_base_ = ['./run-tiny_synthetic-cod.py']
train_dataloader = dict(
    dataset=dict(
        degradation=dict(kind=('lowlight', 'haze', 'lowres', 'combined'),
                         level=('light', 'medium', 'heavy'),
                         clean_fraction=0.5)))
custom_hooks = [dict(type='CleanWarmupHook', clean_iters=500)]
