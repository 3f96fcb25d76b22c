# COD benchmark in the layout of RUN / SINet-V2 / FEDER (see
# docs/get_started.md, "Concealed object detection"):
#   data/TrainDataset/{Imgs,GT,Edge}   COD10K-train 3,040 + CAMO-train 1,000
#   data/TestDataset/<set>/{Imgs,GT}   CHAMELEON 76, CAMO 250, COD10K 2,026,
#                                      NC4K 4,121
# Images are resized to 352x352 (NUN; RUN's released code trains at 384, set
# img_scale). Test masks are loaded after the resize, so CODMetric scores every
# prediction at its ground truth's original size, as the official test scripts
# do; it reports each test set under its folder name (CAMO/Sm ...) and the
# plain keys (Sm ...) as the average over the four sets.
dataset_type = 'CODDataset'
data_root = 'data'
img_scale = (352, 352)  # (W, H)
test_sets = ('CHAMELEON', 'CAMO', 'COD10K', 'NC4K')

train_pipeline = [
    dict(type='LoadCODImageFromFile'),
    dict(type='LoadCODAnnotations', with_edge=True),
    # RUN's training augmentations (util/dataloader.py).
    dict(type='CODRandomFlip', prob=0.5),
    dict(type='CODRandomCrop', border=30),
    dict(type='CODRandomRotate', prob=0.2, max_angle=15),
    dict(type='CODColorEnhance'),
    dict(type='CODRandomPepper', ratio=0.0015),
    dict(type='ResizeCOD', scale=img_scale),
    # Keeps the loaded Edge maps; derives them from the masks when the
    # dataset has none (edge_dir=None).
    dict(type='GenerateEdgeFromMask', width=5),
    dict(type='PackCODInputs'),
]
test_pipeline = [
    dict(type='LoadCODImageFromFile'),
    dict(type='ResizeCOD', scale=img_scale),
    dict(type='LoadCODAnnotations', with_edge=False),
    dict(type='PackCODInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=f'{data_root}/TrainDataset',
        img_dir='Imgs',
        mask_dir='GT',
        edge_dir='Edge',
        dataset_name='COD10K+CAMO-train',
        pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type=dataset_type,
                data_root=f'{data_root}/TestDataset/{name}',
                img_dir='Imgs',
                mask_dir='GT',
                dataset_name=name,
                pipeline=test_pipeline) for name in test_sets
        ]))
val_dataloader = test_dataloader

val_evaluator = dict(type='CODMetric')
test_evaluator = val_evaluator
