default_scope = 'dunseg'
runner_type = 'DunSegRunner'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; DunSegRunner switches to gloo when CUDA is absent
    dist_cfg=dict(backend='nccl'),
    # glibc keeps freed memory instead of unmapping every large activation:
    # ~2x faster CPU train steps at batch 8, higher peak RSS
    # (docs/benchmarks.md)
    malloc_keep_heap=True,
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DunSegVisualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1)
tta_model = None

# Hooks every training recipe shares; the schedule files (schedules/*.py,
# which inherit this file) set the logging interval and when and by which
# metric checkpoints are kept.
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DunSegVisualizationHook'))
