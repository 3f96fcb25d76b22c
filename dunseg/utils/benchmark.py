"""Throughput, achieved GFLOP/s and peak memory of inference and training.

Conventions used by every figure this module reports:

- achieved GFLOP/s = 2 x MACs x images/s / 1e9 (one MAC = a multiply and an
  add); a train step (forward + loss + backward + optimiser step) is counted
  as 3 x the forward MACs (backward = gradients w.r.t. inputs and weights,
  each about one forward);
- the reference is a large ``torch.mm`` timed in the same run with the same
  thread count, so the ratio "model GFLOP/s / torch.mm GFLOP/s" says how
  close the network gets to the machine's dense-matmul throughput and is
  less sensitive to the machine than absolute numbers;
- peak memory on CPU is the peak resident set size (VmHWM) during warm-up
  and timed iterations minus the resident set size just before them; on
  CUDA it is ``torch.cuda.max_memory_allocated`` minus the allocation before.
  Each measurement runs in a fresh process (``isolate=True``) so that an
  earlier measurement's allocator caches cannot hide or inflate the peak.
"""
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .complexity import count_macs

#: Forward passes a train step is counted as (forward + 2 for backward).
TRAIN_STEP_FORWARD_EQUIVALENTS = 3

__all__ = [
    'PeakMemoryMeter', 'TRAIN_STEP_FORWARD_EQUIVALENTS',
    'allocator_environment', 'benchmark_config', 'benchmark_model',
    'build_benchmark_model', 'cpu_model_name', 'synthetic_batch',
    'time_matmul'
]


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _read_proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemoryMeter:
    """Peak memory growth between :meth:`start` and :meth:`peak_mib`.

    CPU: resets the kernel's peak-RSS counter (writing 5 to
    ``/proc/self/clear_refs``, Linux >= 4.0) and reads VmHWM afterwards.
    Without that file it falls back to ``ru_maxrss``, which is a peak since
    process start -- correct only in a fresh process, hence ``isolate``.
    CUDA: ``torch.cuda`` peak statistics.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = None
        self.baseline_kib = 0

    def start(self) -> None:
        if self.device.type == 'cuda':
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.baseline_kib = torch.cuda.memory_allocated(self.device) / 1024
            self.method = 'torch.cuda.max_memory_allocated increase'
            return
        try:
            with open('/proc/self/clear_refs', 'w') as clear_refs:
                clear_refs.write('5')
            self.baseline_kib = _read_proc_status_kb('VmRSS')
            self.method = 'VmHWM increase (peak RSS, reset before warm-up)'
        except OSError:
            import resource

            # Linux reports ru_maxrss in KiB.
            self.baseline_kib = resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss
            self.method = 'ru_maxrss increase (peak RSS since process start)'

    def peak_mib(self) -> float:
        if self.device.type == 'cuda':
            synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) / 1024
        elif self.method.startswith('VmHWM'):
            peak = _read_proc_status_kb('VmHWM')
        else:
            import resource
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(peak - self.baseline_kib, 0) / 1024


def time_matmul(size: int = 2048,
                repeat: int = 10,
                warmup: int = 3,
                device='cpu') -> Dict[str, float]:
    """GFLOP/s of ``torch.mm`` on two ``size x size`` float32 matrices.

    ``2 * size**3`` FLOPs per product; the best of ``repeat`` timed products
    is the machine's reference throughput (median given for spread).
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    times = []
    for i in range(warmup + repeat):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    flops = 2 * size**3
    return dict(
        size=size,
        best_s=min(times),
        median_s=statistics.median(times),
        gflops_best=flops / min(times) / 1e9,
        gflops_median=flops / statistics.median(times) / 1e9)


def synthetic_batch(batch_size: int,
                    in_channels: int,
                    shape: Sequence[int],
                    device='cpu',
                    seed: int = 0) -> Tuple[torch.Tensor, list]:
    """Random images in [0, 1] and data samples for any dunseg model.

    Each ``gt_mask`` is uint8 (1, H, W), zero except a 3 x 3 target at the
    image centre -- what an infrared small-target mask looks like; each
    ``gt_edge`` (for COD models such as RUN, whose loss supervises edges)
    is that target's boundary pixels; each ``gt_image`` (for restorers) is
    a copy of the input.
    """
    from mmengine.structures import PixelData

    from dunseg.structures import DunSegDataSample
    height, width = shape
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(batch_size, in_channels, height, width,
                        generator=generator).to(device)
    data_samples = []
    for _ in range(batch_size):
        mask = torch.zeros(1, height, width, dtype=torch.uint8)
        row, col = height // 2, width // 2
        mask[:, max(row - 1, 0):row + 2, max(col - 1, 0):col + 2] = 1
        sample = DunSegDataSample(metainfo=dict(
            img_shape=(height, width), ori_shape=(height, width)))
        sample.gt_mask = PixelData(data=mask.to(device))
        # mask pixels with a background pixel among their 8 neighbours
        background = 1 - mask[None].float()
        edge = mask * torch.nn.functional.max_pool2d(
            background, 3, stride=1, padding=1)[0].to(torch.uint8)
        sample.gt_edge = PixelData(data=edge.to(device))
        # restorers train against a clean image
        sample.gt_image = PixelData(data=inputs[len(data_samples)].clone())
        data_samples.append(sample)
    return inputs, data_samples


def _total_loss(losses: dict) -> torch.Tensor:
    """Sum of the entries MMEngine back-propagates (keys containing 'loss')."""
    total = 0
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        if isinstance(value, (list, tuple)):
            total = total + sum(v.mean() for v in value)
        else:
            total = total + value.mean()
    return total


def _time_iterations(run_once, device: torch.device, warmup: int,
                     repeat: int) -> List[float]:
    times = []
    for i in range(warmup + repeat):
        synchronize(device)
        start = time.perf_counter()
        run_once()
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def benchmark_model(model: nn.Module,
                    shape: Sequence[int] = (256, 256),
                    batch_size: int = 1,
                    mode: str = 'infer',
                    in_channels: int = 1,
                    warmup: int = 2,
                    repeat: int = 5,
                    lr: float = 1e-4,
                    macs_per_image: Optional[int] = None) -> dict:
    """Time inference or train steps of ``model`` on synthetic data.

    Args:
        model (nn.Module): An MMEngine-style model with ``mode='tensor'``
            (inference) and ``loss(inputs, data_samples)`` (training), on the
            device to benchmark.
        shape (tuple): Input (H, W).
        batch_size (int): Images per iteration.
        mode (str): 'infer' (eval, ``torch.no_grad``, ``mode='tensor'``) or
            'train' (train mode; forward + loss + backward + Adam step).
        in_channels (int): Input channels.
        warmup (int): Untimed iterations first (allocator, oneDNN/cuDNN
            kernel selection, Adam state creation).
        repeat (int): Timed iterations.
        lr (float): Adam learning rate (the values do not matter).
        macs_per_image (int, optional): Forward MACs of one image; counted
            with :func:`count_macs` when None.

    Returns:
        dict: ``mode, batch_size, shape, device, threads, warmup, repeat,
        times_s, ms_median, ms_best, images_per_s_median, images_per_s_best,
        macs_per_image, flops_per_iteration, gflops_median, gflops_best,
        peak_memory_mib, memory_method, load_average``.
    """
    if mode not in ('infer', 'train'):
        raise ValueError(f'mode must be "infer" or "train", got "{mode}"')
    if repeat < 1:
        raise ValueError(f'repeat must be >= 1, got {repeat}')
    device = next(model.parameters()).device
    inputs, data_samples = synthetic_batch(batch_size, in_channels, shape,
                                           device)
    if macs_per_image is None:
        macs_per_image, _ = count_macs(model, inputs[:1])

    meter = PeakMemoryMeter(device)
    if mode == 'infer':
        model.eval()

        def run_once():
            model(inputs, mode='tensor')

        meter.start()
        with torch.no_grad():
            times = _time_iterations(run_once, device, warmup, repeat)
    else:
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)

        def run_once():
            optimizer.zero_grad(set_to_none=True)
            loss = _total_loss(model.loss(inputs, data_samples))
            loss.backward()
            optimizer.step()

        meter.start()
        times = _time_iterations(run_once, device, warmup, repeat)
    peak_mib = meter.peak_mib()

    forward_equivalents = (TRAIN_STEP_FORWARD_EQUIVALENTS
                           if mode == 'train' else 1)
    flops = 2 * macs_per_image * batch_size * forward_equivalents
    median, best = statistics.median(times), min(times)
    return dict(
        mode=mode,
        batch_size=batch_size,
        shape=tuple(shape),
        device=str(device),
        threads=torch.get_num_threads(),
        warmup=warmup,
        repeat=repeat,
        times_s=times,
        ms_median=1e3 * median,
        ms_best=1e3 * best,
        images_per_s_median=batch_size / median,
        images_per_s_best=batch_size / best,
        macs_per_image=macs_per_image,
        flops_per_iteration=flops,
        gflops_median=flops / median / 1e9,
        gflops_best=flops / best / 1e9,
        peak_memory_mib=peak_mib,
        memory_method=meter.method,
        load_average=_load_average())


def step_breakdown(model: nn.Module,
                   shape: Sequence[int] = (64, 64),
                   batch_size: int = 1,
                   in_channels: int = 1,
                   depth: int = 2,
                   warmup: int = 2,
                   repeat: int = 3,
                   lr: float = 1e-4) -> dict:
    """Where a training step's time goes.

    Splits each step into forward + loss, backward and the Adam step, and
    times the forward of every submodule down to ``depth`` levels with
    forward hooks (inclusive of its children; a module called several times
    per step, e.g. a stage-shared network, adds up its calls; the members of
    a ModuleList / ModuleDict count at the container's level). Backward time
    is not attributed to modules; it tracks forward time roughly, 1-2x.

    Returns:
        dict: ``phases_ms`` (``forward``, ``backward``, ``optimizer``,
        ``step``: medians per step), ``modules``: a list of
        ``(name, calls per step, forward ms per step, share of the forward)``
        sorted by time, and ``threads``.
    """
    if depth < 1:
        raise ValueError(f'depth must be >= 1, got {depth}')
    device = next(model.parameters()).device
    inputs, data_samples = synthetic_batch(batch_size, in_channels, shape,
                                           device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    spent: Dict[str, float] = {}
    calls: Dict[str, int] = {}
    started: Dict[str, float] = {}
    handles = []

    def hook_children(prefix: str, module: nn.Module, level: int) -> None:
        for child_name, child in module.named_children():
            name = f'{prefix}.{child_name}' if prefix else child_name
            if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
                # containers are never called: their members count at the
                # container's level
                hook_children(name, child, level)
                continue

            def before(mod, args, name=name):
                synchronize(device)
                started[name] = time.perf_counter()

            def after(mod, args, output, name=name):
                synchronize(device)
                spent[name] = spent.get(name, 0.0) + (
                    time.perf_counter() - started[name])
                calls[name] = calls.get(name, 0) + 1

            handles.append(child.register_forward_pre_hook(before))
            handles.append(child.register_forward_hook(after))
            if level < depth:
                hook_children(name, child, level + 1)

    hook_children('', model, 1)
    phases: Dict[str, List[float]] = dict(
        forward=[], backward=[], optimizer=[], step=[])
    try:
        for i in range(warmup + repeat):
            if i == warmup:
                spent.clear()
                calls.clear()
            optimizer.zero_grad(set_to_none=True)
            synchronize(device)
            t0 = time.perf_counter()
            loss = _total_loss(model.loss(inputs, data_samples))
            synchronize(device)
            t1 = time.perf_counter()
            loss.backward()
            synchronize(device)
            t2 = time.perf_counter()
            optimizer.step()
            synchronize(device)
            t3 = time.perf_counter()
            if i >= warmup:
                for key, value in zip(
                        ('forward', 'backward', 'optimizer', 'step'),
                        (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    phases[key].append(value)
    finally:
        for handle in handles:
            handle.remove()
    forward = statistics.median(phases['forward'])
    modules = sorted(
        ((name, calls[name] // repeat, 1e3 * spent[name] / repeat,
          spent[name] / repeat / forward) for name in spent),
        key=lambda row: -row[2])
    return dict(
        phases_ms={k: 1e3 * statistics.median(v) for k, v in phases.items()},
        modules=modules,
        threads=torch.get_num_threads())


def _load_average() -> Optional[float]:
    """1-minute load average: other processes on the machine skew timings."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def allocator_environment() -> Dict[str, str]:
    """Environment variables that change memory allocation or threading.

    glibc returns blocks above its mmap threshold (at most 32 MiB) to the
    kernel on free, so every large activation is page-faulted in again on
    the next iteration; ``MALLOC_MMAP_MAX_=0`` and a large
    ``MALLOC_TRIM_THRESHOLD_`` keep the memory in the heap. Such settings
    change large-batch train-step timings up to twofold, so reports record
    them.
    """
    prefixes = ('MALLOC_', 'OMP_', 'MKL_', 'KMP_', 'GOMP_')
    names = ('LD_PRELOAD', 'THP_MEM_ALLOC_ENABLE', 'DNNL_MAX_CPU_ISA')
    return {
        key: value
        for key, value in sorted(os.environ.items())
        if key.startswith(prefixes) or key in names
    }


def build_benchmark_model(model_cfg: dict,
                          checkpoint: Optional[str] = None,
                          device='cpu') -> nn.Module:
    """Build a model from its config dict and optionally load weights."""
    from dunseg.registry import MODELS
    from dunseg.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(model_cfg)
    if checkpoint:
        from dunseg.engine.checkpoint import (
            load_model_weights,
            load_weights_only,
        )
        load_model_weights(model, load_weights_only(checkpoint, 'cpu'),
                           checkpoint)
    return model.to(device)


def _set_threads(threads: Optional[int]) -> None:
    if threads:
        torch.set_num_threads(threads)


def _benchmark_worker(model_cfg: dict, checkpoint: Optional[str], device: str,
                      threads: Optional[int], kwargs: dict,
                      keep_heap: bool = False,
                      fuse_conv_bn: bool = False) -> dict:
    """Build the model and run one measurement (in a fresh process)."""
    _set_threads(threads)
    if keep_heap:
        from .malloc import keep_freed_memory_in_heap
        keep_freed_memory_in_heap()
    model = build_benchmark_model(model_cfg, checkpoint, device)
    if fuse_conv_bn and kwargs['mode'] == 'infer':
        # eval-mode BatchNorm is an affine map: fold it into the conv before
        from mmcv.cnn import fuse_conv_bn as fuse
        model = fuse(model.eval())
    return benchmark_model(model, **kwargs)


def _matmul_worker(device: str, threads: Optional[int], kwargs: dict) -> dict:
    _set_threads(threads)
    return time_matmul(device=device, **kwargs)


def _run(isolate: bool, fn, *args):
    if not isolate:
        return fn(*args)
    # 'spawn' rather than 'fork': a forked child inherits the parent's heap
    # (and, on CUDA, cannot reinitialise the driver).
    with ProcessPoolExecutor(
            max_workers=1, mp_context=get_context('spawn')) as executor:
        return executor.submit(fn, *args).result()


def benchmark_config(model_cfg: dict,
                     checkpoint: Optional[str] = None,
                     shape: Sequence[int] = (256, 256),
                     batch_sizes: Dict[str, int] = None,
                     modes: Sequence[str] = ('infer', 'train'),
                     in_channels: int = 1,
                     warmup: int = 2,
                     repeat: int = 5,
                     threads: Optional[int] = None,
                     device: str = 'cpu',
                     matmul_size: int = 2048,
                     isolate: bool = True,
                     keep_heap: bool = False,
                     fuse_conv_bn: bool = False) -> dict:
    """Benchmark a model config in each mode and relate it to ``torch.mm``.

    The ``torch.mm`` reference is timed before and after the model
    measurements and the better run is kept, so a temporary slowdown of a
    shared machine does not flatter the model's ratio.

    Args:
        model_cfg (dict): The config's ``model`` entry (a plain dict).
        checkpoint (str, optional): Weights to load.
        batch_sizes (dict): Mode -> batch size; default 1 for both.
        modes (sequence): Any of 'infer', 'train'.
        threads (int, optional): ``torch.set_num_threads`` for the model and
            the matmul; None keeps PyTorch's default.
        isolate (bool): Run every measurement in a fresh spawned process
            (slower to start, robust peak memory).
        keep_heap (bool): Call
            :func:`dunseg.utils.malloc.keep_freed_memory_in_heap` in the
            measuring process, as :class:`DunSegRunner` does for training.
        fuse_conv_bn (bool): For inference, fold every BatchNorm into the
            convolution before it (``mmcv.cnn.fuse_conv_bn``; same outputs).
        Others: see :func:`benchmark_model`.

    Returns:
        dict: ``params``, ``macs_per_image``, ``matmul`` (see
        :func:`time_matmul`), ``environment`` (see
        :func:`allocator_environment`), ``cpu`` and ``results``: one
        :func:`benchmark_model`
        dict per mode, extended by ``mm_fraction_median`` and
        ``mm_fraction_best`` (model GFLOP/s over the best torch.mm GFLOP/s).
    """
    batch_sizes = {**dict(infer=1, train=1), **(batch_sizes or {})}
    _set_threads(threads)
    # MACs/params are counted once here (cheap, device independent).
    model = build_benchmark_model(model_cfg, None, 'cpu')
    macs_per_image, params = count_macs(
        model, torch.rand(1, in_channels, *shape))
    del model

    matmul_kwargs = dict(size=matmul_size)
    matmul_runs = [_run(isolate, _matmul_worker, device, threads,
                        matmul_kwargs)]
    results = []
    for mode in modes:
        kwargs = dict(
            shape=tuple(shape),
            batch_size=batch_sizes[mode],
            mode=mode,
            in_channels=in_channels,
            warmup=warmup,
            repeat=repeat,
            macs_per_image=macs_per_image)
        results.append(
            _run(isolate, _benchmark_worker, model_cfg, checkpoint, device,
                 threads, kwargs, keep_heap, fuse_conv_bn))
    matmul_runs.append(
        _run(isolate, _matmul_worker, device, threads, matmul_kwargs))
    matmul = max(matmul_runs, key=lambda run: run['gflops_best'])
    reference = matmul['gflops_best']
    for result in results:
        result['mm_fraction_median'] = result['gflops_median'] / reference
        result['mm_fraction_best'] = result['gflops_best'] / reference
    return dict(
        params=params,
        macs_per_image=macs_per_image,
        matmul=matmul,
        results=results,
        keep_heap=keep_heap,
        fuse_conv_bn=fuse_conv_bn,
        environment=allocator_environment(),
        cpu=cpu_model_name() if device == 'cpu' else
        torch.cuda.get_device_name(torch.device(device)))


def cpu_model_name() -> str:
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or 'unknown CPU'
