# Common pieces of the all-in-one restoration sets (allinone_3task.py,
# allinone_5task.py), official VLU-Net / PromptIR data recipe: BSD400+WED
# with Gaussian noise added on the fly, 128x128 random patches with one of
# the 7 official flip/rot90 modes, 4 patches per GPU (the model config sets
# the total); test images centre-cropped to a multiple of 16 as the official
# evaluation, one ConcatDataset of the test sets, scored by
# RestorationMetric. Layout: docs/get_started.md, 'Restoration data
# layouts'. Each dataset file sets its tasks (degradation classes), the
# pipelines that name them and its test sets.
data_root = 'data'
# official noise: clip(x + n) truncated to 8 bit
noise_degrade_params = dict(denoise_15=dict(quantize=True),
                            denoise_25=dict(quantize=True),
                            denoise_50=dict(quantize=True))

train_dataloader = dict(batch_size=4,
                        num_workers=4,
                        persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'),
                        dataset=dict(type='AllInOneRestorationDataset',
                                     data_root=data_root,
                                     split='train'))
val_dataloader = dict(batch_size=1,
                      num_workers=2,
                      persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      collate_fn=dict(type='default_collate'),
                      dataset=dict(type='ConcatDataset'))
test_dataloader = val_dataloader

val_evaluator = dict(type='RestorationMetric')
test_evaluator = val_evaluator
