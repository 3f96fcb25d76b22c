"""Time dunseg's models against the official code, side by side, on CPU.

``python tools/analysis_tools/compare_official.py --official-root DIR
[--models rpcanet rpcanet_plus vlunet run64 run192] [--threads 2]
[--rounds 3] [--warmup 1] [--extra-path DIR] [--out results.json]``

``DIR`` holds the official checkouts (or give each with ``--rpcanet-root``,
``--lrpcanet-root``, ``--vlunet-root``, ``--run-root``):

- ``RPCANet/``: github.com/fengyiwu98/RPCANet at commit 1220642 (the WACV
  2024 code; later commits are RPCANet++), ``models/RPCANet.py``;
- ``L-RPCANet/``: github.com/xianchaoxiu/L-RPCANet (RPCANet+),
  ``L-RPCANet/models/LRPCANet.py``;
- ``VLU-Net/``: github.com/xianggkl/VLU-Net, ``net/Final.py``;
- ``RUN/``: github.com/ChunmingHe/RUN, ``lib/Network.py``.

Their model files are imported unchanged into this process. They need
``einops`` (``pip install einops``, or ``--extra-path`` to a directory that
holds it); RUN also imports ``mamba_ssm``, which is replaced here by a module
whose ``selective_scan_fn`` is dunseg's selective scan, so both sides run
the same scan.

For every case both networks are built (ours from the config meant for the
official weights), the official weights are converted into ours with
``tools/model_converters`` where a converter exists and the outputs are
asserted equal, then inference (``no_grad``) and a train step (forward, the
same loss on both sides, backward, Adam) are timed in interleaved rounds:
each round runs ours and the official once, in alternating order, so a
change of machine load hits both. Reported: median ms per call of each side
and the median over rounds of ours / official (below 1 = ours faster).

Cases (inference batch 1; train batch ``--train-batch``, default 2):

- ``rpcanet``: RPCANet K=6, 256x256, ``rpcanet_k6_400e_nudt-sirst``.
- ``rpcanet_plus``: RPCANet+ K=6, b=4, 256x256,
  ``rpcanet-plus_k6b4_400e_sirst-aug``.
- ``vlunet``: the VLUNet(7) backbone of ``vlunet_de7_200e_allinone-5task``
  at 128x128 with a fixed random 512-d degradation vector (the CLIP prior
  is outside the official ``VLUNet`` as well and not timed).
- ``run64`` / ``run192``: RUN with the ResNet-50 encoder at 64 / 192
  decoder channels, 384x384. No converter exists for RUN, so the weights
  differ (timing does not depend on them). The official ``Network`` builds
  ``Selectivemamba`` and its two VSS blocks inside ``forward``; here they are
  built once, registered as sub-modules of the official network (so its
  optimiser updates them as ours does) and reused, and their 192-channel
  read-out conv follows the channel count (the official one only runs at
  192). The official timm ResNet-50 is built without downloading weights.
"""
import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
import types
from typing import Callable, Dict, List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

CASE_NAMES = ('rpcanet', 'rpcanet_plus', 'vlunet', 'run64', 'run192')
CHECKOUTS = dict(
    rpcanet='RPCANet', lrpcanet='L-RPCANet', vlunet='VLU-Net', run='RUN')


# --------------------------------------------------------------------------
# timing core (no official code needed; tests/test_tools covers it)
# --------------------------------------------------------------------------
class Side:
    """One network's two timed calls: ``infer()`` and ``train_step()``."""

    def __init__(self, infer: Callable[[], object],
                 train_step: Callable[[], object]) -> None:
        self.infer = infer
        self.train_step = train_step


def interleaved_rounds(calls: Dict[str, Callable[[], object]],
                       rounds: int,
                       warmup: int = 1,
                       timer: Callable[[], float] = time.perf_counter,
                       order_log: Optional[list] = None
                       ) -> Dict[str, List[float]]:
    """Time each call once per round, alternating the order every round.

    Round r runs the calls in the given order when r is even and reversed
    when r is odd, so neither side always runs right after the other
    (caches, allocator state, thermal and load drift fall on both alike).
    ``warmup`` rounds run first, untimed. Returns seconds per call, one
    entry per timed round, keyed like ``calls``.
    """
    if rounds < 1:
        raise ValueError(f'rounds must be >= 1, got {rounds}')
    names = list(calls)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            if order_log is not None:
                order_log.append((r, name))
            start = timer()
            calls[name]()
            elapsed = timer() - start
            if r >= warmup:
                times[name].append(elapsed)
    return times


def paired_ratio(ours: Sequence[float], official: Sequence[float]) -> dict:
    """Median over rounds of ours / official, and each side's median time.

    The ratio is taken per round (the two calls of one round ran under the
    same load) and its median reported; ``ratio_min`` / ``ratio_max`` give
    the spread.
    """
    if len(ours) != len(official) or not ours:
        raise ValueError('paired_ratio needs one time per round on each '
                         f'side, got {len(ours)} and {len(official)}')
    ratios = [a / b for a, b in zip(ours, official)]
    return dict(
        ours_ms=1e3 * statistics.median(ours),
        official_ms=1e3 * statistics.median(official),
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        rounds=len(ratios))


def compare_sides(ours: Side, official: Side, rounds: int, warmup: int,
                  modes: Sequence[str] = ('infer', 'train_step'),
                  timer: Callable[[], float] = time.perf_counter) -> dict:
    """Interleaved timing of ``ours`` against ``official`` per mode."""
    results = {}
    for mode in modes:
        times = interleaved_rounds(
            dict(ours=getattr(ours, mode), official=getattr(official, mode)),
            rounds, warmup, timer)
        results[mode] = paired_ratio(times['ours'], times['official'])
    return results


def markdown_table(rows: Sequence[dict], target: float = 0.6) -> str:
    """Rows of ``case``, ``mode``, ``shape``, ``batch``, ``check`` and the
    :func:`paired_ratio` fields, as a markdown table."""
    lines = [
        '| case | mode | input | ours ms | official ms | ours / official '
        '(median, min-max) | target ' + f'{target:g}x | outputs |',
        '|---|---|---|---|---|---|---|---|',
    ]
    mode_names = dict(infer='inference', train_step='train step')
    for row in rows:
        met = 'met' if row['ratio'] <= target else 'not met'
        lines.append(
            f"| {row['case']} | {mode_names.get(row['mode'], row['mode'])} "
            f"| {row['batch']}x{row['shape']} | {row['ours_ms']:,.0f} "
            f"| {row['official_ms']:,.0f} | **{row['ratio']:.2f}** "
            f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) | {met} "
            f"| {row['check']} |")
    return '\n'.join(lines)


def profile_top_ops(call: Callable[[], object], top: int = 12) -> str:
    """``torch.profiler`` table of one call: the ``top`` operators by self
    CPU time."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        call()
    return prof.key_averages().table(
        sort_by='self_cpu_time_total', row_limit=top, max_name_column_width=40)


def load_module_from_file(path: str, name: str) -> types.ModuleType:
    """Import one official model file as module ``name`` (no package)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: pass the official checkout with '
            '--official-root (a directory holding RPCANet/, L-RPCANet/, '
            'VLU-Net/, RUN/) or the per-model --*-root options')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f'{path} imports {error.name!r}, which is not installed: '
            f'pip install {error.name} (or --extra-path DIR holding it)'
        ) from error
    return module


def assert_outputs_match(ours: Sequence[torch.Tensor],
                         official: Sequence[torch.Tensor], what: str,
                         rtol: float = 1e-4, atol: float = 1e-4) -> str:
    """Raise if any pair differs beyond float rounding; return a summary."""
    worst = 0.0
    for a, b in zip(ours, official):
        if a.shape != b.shape:
            raise AssertionError(f'{what}: output shapes differ, '
                                 f'{tuple(a.shape)} vs {tuple(b.shape)}')
        scale = b.abs().max().item() or 1.0
        diff = (a.float() - b.float()).abs().max().item()
        worst = max(worst, diff / scale)
        if not torch.allclose(a.float(), b.float(), rtol=rtol,
                              atol=atol * scale):
            raise AssertionError(
                f'{what}: ours and the official outputs differ by {diff:.3g} '
                f'(max |official| {scale:.3g}); the converted weights do not '
                'reproduce the official network')
    return f'equal (max rel. diff {worst:.1e})'


def adam_step(model: nn.Module, loss_fn: Callable[[], torch.Tensor],
              optimizer: torch.optim.Optimizer) -> Callable[[], float]:
    """A train step closure: forward + loss, backward, Adam."""

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss.item()

    model.train()
    return step


def make_side(model: nn.Module, infer_fn: Callable[[], object],
              loss_fn: Callable[[], torch.Tensor],
              extra_params: Sequence[nn.Parameter] = ()) -> Side:
    """Wrap ``model`` into a :class:`Side` (eval + no_grad for inference,
    train mode + Adam over its parameters for the train step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    params += list(extra_params)
    optimizer = torch.optim.Adam(params, lr=1e-5)
    step = adam_step(model, loss_fn, optimizer)

    def infer():
        model.eval()
        with torch.no_grad():
            return infer_fn()

    def train_step():
        model.train()
        return step()

    return Side(infer, train_step)


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
def _build_ours(config: str, options: Optional[dict] = None) -> nn.Module:
    from mmengine.config import Config

    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    if options:
        cfg.merge_from_dict(options)
    # PyTorch's default initialisation: the official weights are loaded
    # where a converter exists, and timing does not depend on them
    return MODELS.build(cfg.model)


def _converters():
    path = osp.join(REPO_ROOT, 'tools', 'model_converters')
    if path not in sys.path:
        sys.path.insert(0, path)
    rpcanet = importlib.import_module('rpcanet2dunseg')
    vlunet = importlib.import_module('vlunet2dunseg')
    return rpcanet.convert_rpcanet_state_dict, vlunet.convert_vlunet_state_dict


def _point_mask(batch: int, size: int) -> torch.Tensor:
    mask = torch.zeros(batch, 1, size, size)
    c = size // 2
    mask[:, :, c - 1:c + 2, c - 1:c + 2] = 1
    return mask


def _rpca_loss(D: torch.Tensor, T: torch.Tensor, image: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
    """Soft IoU on sigmoid(T) + 0.1 MSE(D, image), the RPCANet recipe's
    losses, computed the same way for both sides."""
    prob = torch.sigmoid(T)
    inter = (prob * mask).sum()
    iou = (inter + 1) / (prob.sum() + mask.sum() - inter + 1)
    return 1 - iou + 0.1 * F.mse_loss(D, image)


def build_rpca_case(name: str, root: str, train_batch: int,
                    size: int = 256) -> dict:
    plus = name == 'rpcanet_plus'
    if plus:
        path = osp.join(root, 'L-RPCANet', 'models', 'LRPCANet.py')
        module = load_module_from_file(path, 'official_lrpcanet')
        official = module.LRPCANet(stage_num=6, b_channel=4, mode='train')
        config = ('configs/rpcanet/'
                  'rpcanet-plus_k6b4_400e_sirst-aug-256x256.py')
    else:
        path = osp.join(root, 'models', 'RPCANet.py')
        module = load_module_from_file(path, 'official_rpcanet')
        official = module.RPCANet(stage_num=6, mode='train')
        config = 'configs/rpcanet/rpcanet_k6_400e_nudt-sirst-256x256.py'
    ours = _build_ours(config)
    convert_rpcanet, _ = _converters()
    ours.load_state_dict(convert_rpcanet(official.state_dict()), strict=True)

    torch.manual_seed(0)
    image1 = torch.rand(1, 1, size, size)
    ours.eval()
    official.eval()
    with torch.no_grad():
        final = ours.extract_states(image1)[-1]
        D_off, T_off = official(image1)
    check = assert_outputs_match([final['D'], final['T']], [D_off, T_off],
                                 name)

    image = torch.rand(train_batch, 1, size, size)
    mask = _point_mask(train_batch, size)

    def ours_loss():
        state = ours.extract_states(image)[-1]
        return _rpca_loss(state['D'], state['T'], image, mask)

    def official_loss():
        D, T = official(image)
        return _rpca_loss(D, T, image, mask)

    return dict(
        ours=make_side(ours, lambda: ours._forward(image1), ours_loss),
        official=make_side(official, lambda: official(image1)[1],
                           official_loss),
        shape=f'{size}²', infer_batch=1, train_batch=train_batch,
        check=check, config=config)


def build_vlunet_case(root: str, train_batch: int, size: int = 128) -> dict:
    module = load_module_from_file(
        osp.join(root, 'net', 'Final.py'), 'official_vlunet_final')
    official = module.VLUNet(7)
    config = 'configs/vlunet/vlunet_de7_200e_allinone-5task-128x128.py'
    ours = _build_ours(config).backbone
    _, convert_vlunet = _converters()
    ours.load_state_dict(
        convert_vlunet(official.state_dict(), prefix=''), strict=True)

    torch.manual_seed(0)
    image1, prior1 = torch.rand(1, 3, size, size), torch.randn(1, 512)
    ours.eval()
    official.eval()
    with torch.no_grad():
        ours_out = ours(image1, prior1)[-1]['image']
        official_out = official(image1, prior1)
    check = assert_outputs_match([ours_out], [official_out], 'vlunet')

    image = torch.rand(train_batch, 3, size, size)
    target = torch.rand(train_batch, 3, size, size)
    prior = torch.randn(train_batch, 512)

    def ours_loss():
        return F.l1_loss(ours(image, prior)[-1]['image'], target)

    def official_loss():
        return F.l1_loss(official(image, prior), target)

    return dict(
        ours=make_side(ours, lambda: ours(image1, prior1), ours_loss),
        official=make_side(official, lambda: official(image1, prior1),
                           official_loss),
        shape=f'{size}²', infer_batch=1, train_batch=train_batch,
        check=check, config=config + ' (backbone)')


@contextlib.contextmanager
def _timm_without_download():
    """timm.create_model(..., pretrained=True) would download ImageNet
    weights; the timing does not need them."""
    import timm
    create = timm.create_model

    def create_model(*args, **kwargs):
        kwargs['pretrained'] = False
        return create(*args, **kwargs)

    timm.create_model = create_model
    try:
        yield
    finally:
        timm.create_model = create


def _install_mamba_ssm_shim() -> None:
    """``mamba_ssm.ops.selective_scan_interface`` backed by dunseg's scan
    (the same one our VSS blocks call)."""
    from dunseg.models.layers.selective_scan import selective_scan
    if 'mamba_ssm.ops.selective_scan_interface' in sys.modules:
        return
    names = ('mamba_ssm', 'mamba_ssm.ops',
             'mamba_ssm.ops.selective_scan_interface')
    modules = [types.ModuleType(n) for n in names]
    modules[0].ops = modules[1]
    modules[1].selective_scan_interface = modules[2]
    modules[2].selective_scan_fn = selective_scan
    modules[2].selective_scan_ref = selective_scan
    for n, m in zip(names, modules):
        sys.modules[n] = m


def _import_official_run(root: str):
    if not osp.isfile(osp.join(root, 'lib', 'Network.py')):
        raise FileNotFoundError(
            f'{root}/lib/Network.py not found: pass the ChunmingHe/RUN '
            'checkout with --run-root or --official-root')
    _install_mamba_ssm_shim()
    loaded = sys.modules.get('lib')
    if loaded is not None and osp.dirname(
            getattr(loaded, '__file__', '') or '') != osp.join(root, 'lib'):
        raise ImportError(f'a different "lib" package is already imported '
                          f'({loaded}); RUN\'s lib/ cannot be loaded')
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        network = importlib.import_module('lib.Network')
        modules = importlib.import_module('lib.Modules')
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f'RUN ({root}/lib) imports {error.name!r}, which is not '
            f'installed: pip install {error.name} (or --extra-path DIR)'
        ) from error
    return network, modules


def _cpu_only(module: nn.Module) -> nn.Module:
    """The official code calls ``.cuda()`` on modules it builds in forward;
    on this CPU run that call returns the module unchanged."""
    module.cuda = lambda *args, **kwargs: module
    return module


def build_official_run(root: str, channels: int) -> nn.Module:
    """The official ``Network(channels)`` with its state-space branch built
    once (see the module docstring)."""
    network, modules = _import_official_run(root)
    with _timm_without_download():
        official = network.Network(channels)
    blocks = {
        light: _cpu_only(modules.VSSBlock(hidden_dim=channels,
                                          is_light_sr=light))
        for light in (False, True)
    }
    selective = _cpu_only(modules.Selectivemamba())
    # the official read-out conv is hard-wired to 192 input channels
    selective.out_y = nn.Sequential(nn.Conv2d(channels, 1, 3, padding=1))
    selective.vss_small = blocks[False]
    selective.vss_large = blocks[True]
    official.prebuilt_selective_mamba = selective

    def vss_block(hidden_dim, is_light_sr=False, **kwargs):
        if hidden_dim != channels or kwargs:
            raise RuntimeError('unexpected VSSBlock arguments '
                               f'{hidden_dim}, {kwargs}')
        return blocks[bool(is_light_sr)]

    # module-global names the official forward looks up at call time
    network.Selectivemamba = lambda: selective
    modules.VSSBlock = vss_block
    return official


def _sum_of_means(tensors) -> torch.Tensor:
    """Mean of every output tensor, summed: a loss that back-propagates
    through every output the network returns."""
    flat = []

    def collect(x):
        if isinstance(x, torch.Tensor):
            flat.append(x)
        elif isinstance(x, dict):
            for value in x.values():
                collect(value)
        elif isinstance(x, (list, tuple)):
            for value in x:
                collect(value)

    collect(tensors)
    return sum(t.float().square().mean() for t in flat)


def build_run_case(root: str, channels: int, train_batch: int,
                   size: int = 384) -> dict:
    torch.manual_seed(0)
    official = build_official_run(root, channels)
    ours = _build_ours('configs/run/run_r50_200e_cod10k-384x384.py',
                       {'model.backbone.channels': channels,
                        'model.encoder.pretrained': None})
    image1 = torch.randn(1, 3, size, size)
    image = torch.randn(train_batch, 3, size, size)
    return dict(
        ours=make_side(ours, lambda: ours.extract_states(image1),
                       lambda: _sum_of_means(ours.extract_states(image))),
        official=make_side(official, lambda: official(image1),
                           lambda: _sum_of_means(official(image))),
        shape=f'{size}²', infer_batch=1, train_batch=train_batch,
        check='not compared (no RUN converter)',
        config=f'configs/run/run_r50_200e_cod10k-384x384.py, '
        f'channels={channels}')


def build_case(name: str, roots: Dict[str, str], train_batch: int) -> dict:
    if name == 'rpcanet':
        return build_rpca_case(name, roots['rpcanet'], train_batch)
    if name == 'rpcanet_plus':
        return build_rpca_case(name, roots['lrpcanet'], train_batch)
    if name == 'vlunet':
        return build_vlunet_case(roots['vlunet'], train_batch)
    if name in ('run64', 'run192'):
        return build_run_case(roots['run'], int(name[3:]), train_batch)
    raise ValueError(f'unknown case {name!r}; choose from {CASE_NAMES}')


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time dunseg against the official code, interleaved')
    parser.add_argument(
        '--official-root',
        help='directory holding RPCANet/, L-RPCANet/, VLU-Net/, RUN/')
    for key, folder in CHECKOUTS.items():
        parser.add_argument(f'--{key}-root',
                            help=f'the {folder} checkout (overrides '
                            '--official-root)')
    parser.add_argument('--models', nargs='+', default=list(CASE_NAMES),
                        choices=CASE_NAMES)
    parser.add_argument('--modes', nargs='+',
                        default=['infer', 'train_step'],
                        choices=['infer', 'train_step'])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3,
                        help='timed rounds per case and mode')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed rounds first')
    parser.add_argument('--train-batch', type=int, default=2)
    parser.add_argument('--target', type=float, default=0.6,
                        help='ratio ours / official to meet')
    parser.add_argument('--extra-path', action='append', default=[],
                        help='add DIR to sys.path (e.g. where einops is)')
    parser.add_argument('--no-keep-heap', action='store_true',
                        help="keep glibc's default of returning large "
                        'freed blocks to the kernel (the runner keeps them)')
    parser.add_argument('--profile', action='store_true',
                        help='after timing, print the top operators of one '
                        'call of each side and mode (torch.profiler)')
    parser.add_argument('--out', help='write every number as JSON')
    return parser.parse_args(argv)


def resolve_roots(args) -> Dict[str, str]:
    roots = {}
    for key, folder in CHECKOUTS.items():
        given = getattr(args, f'{key}_root')
        if given is None and args.official_root:
            given = osp.join(args.official_root, folder)
        roots[key] = osp.abspath(given) if given else ''
    needed = dict(rpcanet='rpcanet', rpcanet_plus='lrpcanet',
                  vlunet='vlunet', run64='run', run192='run')
    missing = sorted({needed[m] for m in args.models if not roots[needed[m]]})
    if missing:
        raise SystemExit(
            'no official checkout given for ' + ', '.join(missing) +
            ': pass --official-root DIR or ' +
            ' '.join(f'--{key}-root' for key in missing))
    return roots


def machine_summary(threads: int) -> dict:
    from dunseg.utils.benchmark import cpu_model_name
    return dict(
        date=time.strftime('%Y-%m-%d %H:%M %Z'),
        cpu=cpu_model_name(),
        cpus=os.cpu_count(),
        threads=threads,
        torch=torch.__version__,
        python=platform.python_version(),
        load_average=[round(x, 2) for x in os.getloadavg()])


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    sys.path.extend(args.extra_path)
    roots = resolve_roots(args)
    torch.set_num_threads(args.threads)
    if not args.no_keep_heap:
        from dunseg.utils.malloc import keep_freed_memory_in_heap
        keep_freed_memory_in_heap()
    info = machine_summary(args.threads)
    print(f"{info['date']}, {info['cpu']}, {info['cpus']} CPUs, "
          f"{args.threads} threads, torch {info['torch']}, load average "
          f"{info['load_average']} at the start", flush=True)
    start = time.perf_counter()
    rows = []
    for name in args.models:
        case = build_case(name, roots, args.train_batch)
        print(f'{name}: {case["config"]}; outputs {case["check"]}',
              flush=True)
        results = compare_sides(case['ours'], case['official'],
                                args.rounds, args.warmup, args.modes)
        for mode, result in results.items():
            batch = (case['infer_batch'] if mode == 'infer' else
                     case['train_batch'])
            row = dict(case=name, mode=mode, shape=case['shape'],
                       batch=batch, check=case['check'], **result)
            rows.append(row)
            print(f"  {mode:10s} ours {row['ours_ms']:9.1f} ms  official "
                  f"{row['official_ms']:9.1f} ms  ours/official "
                  f"{row['ratio']:.3f} ({row['ratio_min']:.3f}-"
                  f"{row['ratio_max']:.3f})", flush=True)
            if args.profile:
                for side in ('ours', 'official'):
                    print(f'  {name} {mode}, {side}: top operators')
                    print(profile_top_ops(getattr(case[side], mode)),
                          flush=True)
        del case
    info['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    info['seconds'] = round(time.perf_counter() - start, 1)
    print()
    print(markdown_table(rows, args.target))
    print(f"\n{info['seconds']} s; load average {info['load_average']} at "
          f"the start, {info['load_average_end']} at the end")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(machine=info, args=vars(args), rows=rows), f,
                      indent=1)
    return rows


if __name__ == '__main__':
    main()
