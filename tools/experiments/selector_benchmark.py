"""Cost of candidate selection against a forward of a tiny model.

NUN scores every DeRUN iterate (N = 4 + 3 + 3 + 2 = 12 per image) and runs
a DA-CLIP prior; this measures, per image size, the median time to score
one candidate with each selector, one forward of the tiny DA-CLIP prior of
``configs/daclip/``, and one forward (eval, no_grad) of a reference tiny
model (default: the embedded tiny VLU-Net, the restorer whose iterates
would be scored), all single-image, on this machine::

    python tools/experiments/selector_benchmark.py
    python tools/experiments/selector_benchmark.py --sizes 64 352 \
        --reference-config CONFIG   # another reference model

pyiqa selectors are timed only with ``--pyiqa`` and pyiqa installed (with
random weights: the cost does not depend on them).
"""
import argparse
import os.path as osp
import statistics
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

DEFAULT_REFERENCE = osp.join(
    REPO_ROOT, 'configs', 'vlunet',
    'vlunet_tiny_5k_synthetic-degradation-64x64.py')
TINY_DACLIP = osp.join(REPO_ROOT, 'configs', 'daclip',
                       'daclip_tiny_6e_synthetic-degradation-64x64.py')


def median_ms(fn, repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def build_reference(config: str):
    from mmengine.config import Config

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(config).model)
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 352])
    parser.add_argument('--candidates', type=int, default=4,
                        help='S candidates scored per call (NUN stage 1: 4)')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument(
        '--threads', type=int, default=1,
        help='torch threads; 1 by default: on a shared 2-core machine two '
        'threads per process oversubscribe the cores and time the waiting')
    parser.add_argument('--reference-config', default=DEFAULT_REFERENCE)
    parser.add_argument('--pyiqa', action='store_true',
                        help='also time TOPIQ-NR and MUSIQ (random weights)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from mmengine.config import Config

    from dunseg.models.selectors import (
        InputAwareQualitySelector,
        LastSelector,
        LearnedQualitySelector,
        OracleSelector,
        PyIQASelector,
    )
    from dunseg.registry import MODELS
    reference_model = build_reference(args.reference_config)
    selectors = dict(
        last=LastSelector(), oracle=OracleSelector(),
        learned=LearnedQualitySelector(),
        input_aware=InputAwareQualitySelector())
    if args.pyiqa:
        for metric in ('topiq_nr', 'musiq'):
            selectors[metric] = PyIQASelector(
                metric, allow_random_init=True,
                metric_kwargs=dict(backbone_pretrain=False)
                if metric == 'topiq_nr' else None)
    daclip = MODELS.build(Config.fromfile(TINY_DACLIP).model.prior).eval()

    print(f'threads {args.threads}, S = {args.candidates} candidates per '
          f'call, median of {args.repeat}; reference: '
          f'{osp.relpath(args.reference_config, REPO_ROOT)}')
    print(f'{"size":>5} {"scorer":<12} {"ms/candidate":>12} '
          f'{"x ref fwd":>9}')
    for size in args.sizes:
        image = torch.rand(1, 3, size, size)
        candidates = torch.rand(1, args.candidates, 3, size, size)
        with torch.no_grad():
            ref_ms = median_ms(
                lambda: reference_model(image, mode='tensor'), args.repeat)
            daclip_ms = median_ms(lambda: daclip(image), args.repeat)
        print(f'{size:>5} {"ref forward":<12} {ref_ms:>12.2f} {1:>9.3f}')
        print(f'{size:>5} {"tiny DA-CLIP":<12} {daclip_ms:>12.2f} '
              f'{daclip_ms / ref_ms:>9.3f}')
        for label, selector in selectors.items():
            ms = median_ms(
                lambda: selector(candidates, reference=image[0:1],
                                 observation=image[0:1]),
                args.repeat) / args.candidates
            print(f'{size:>5} {label:<12} {ms:>12.3f} {ms / ref_ms:>9.3f}')


if __name__ == '__main__':
    main()
