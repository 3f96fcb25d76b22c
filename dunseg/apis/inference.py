"""Build a model from a config and run it on images (demo, notebooks,
tests)."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dunseg.engine.checkpoint import load_model_weights, load_weights_only
from dunseg.registry import MODELS, TRANSFORMS
from dunseg.structures import DunSegDataSample
from dunseg.utils.finite import check_finite_image, non_finite_predictions

ImageType = Union[str, np.ndarray]

# Test-pipeline transforms that need ground truth, skipped for inference.
# Transform classes can also say so themselves with a class attribute
# ``skip_at_inference = True`` (e.g. KSpaceUndersample, which makes the
# degraded input from the clean slice: files given to a model are already
# degraded).
_NEEDS_GROUND_TRUTH = ('Annotation', 'Paired', 'Degrade')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a model from a config file and load a checkpoint.

    Checkpoints are loaded with ``weights_only=True`` and, by default,
    strictly: a checkpoint of another model (missing, unexpected or
    mis-shaped keys) is a
    :class:`~dunseg.engine.checkpoint.CheckpointMismatchError`.

    Args:
        config: Config file path or object.
        checkpoint (str, optional): Checkpoint path; None = random init.
        device (str): 'cpu', 'cuda', 'cuda:1' ...
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): False loads the keys that match and ignores the
            rest (a deliberate partial load).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError('config must be a filename or Config object, got '
                        f'{type(config).__name__}')
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    init_default_scope(config.get('default_scope', 'dunseg'))
    model = MODELS.build(config.model)
    if checkpoint is None:
        model.init_weights()
    else:
        ckpt = _read_checkpoint(checkpoint)
        load_model_weights(model, ckpt, checkpoint, strict=strict,
                           keep_built=config.get('keep_built_weights', ()))
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _read_checkpoint(checkpoint: str):
    """:func:`load_weights_only`, with files that are no PyTorch checkpoint
    at all (a text file, a truncated download) as a one-line ValueError
    naming the file instead of the unpickler's internal error."""
    if Path(checkpoint).is_file():
        with open(checkpoint, 'rb') as f:
            head = f.read(4)
        # torch.save writes a zip archive (PK..), older PyTorch a pickle
        # (protocol >= 2 starts with 0x80); a text file would otherwise be
        # reported by the unpickler as "pickled Python objects"
        if not (head.startswith(b'PK') or head.startswith(b'\x80')):
            raise ValueError(
                f'checkpoint {checkpoint!r} is not a PyTorch checkpoint '
                f'(it starts with {head!r}, neither a zip archive nor a '
                'pickle; a text or image file?): pass a .pth file written by '
                'tools/train.py or tools/model_converters/publish_model.py')
    try:
        ckpt = load_weights_only(checkpoint, map_location='cpu')
    except FileNotFoundError:
        raise
    except RuntimeError as err:
        if 'pickled Python objects' in str(err):
            raise  # load_weights_only's own message says what to do
        raise ValueError(_not_a_checkpoint(checkpoint, err)) from err
    except Exception as err:  # the unpickler's KeyError, IndexError ...
        raise ValueError(_not_a_checkpoint(checkpoint, err)) from err
    if not isinstance(ckpt, dict):
        raise ValueError(
            f'checkpoint {checkpoint!r} holds a {type(ckpt).__name__}, not '
            'a dict of weights: pass a .pth file written by tools/train.py '
            'or tools/model_converters/publish_model.py')
    return ckpt


def _not_a_checkpoint(checkpoint: str, err: Exception) -> str:
    reason = str(err).splitlines()[0] if str(err) else ''
    return (f'checkpoint {checkpoint!r} is not a readable PyTorch checkpoint '
            f'(torch.load failed: {type(err).__name__}: {reason}); it is '
            'probably truncated or another kind of file: pass a .pth file '
            'written by tools/train.py or '
            'tools/model_converters/publish_model.py')


def _test_pipeline(cfg: Config) -> list:
    """The test set's pipeline; wrapped datasets (``ConcatDataset`` of
    several test sets, ``RepeatDataset`` ...) give their first member's."""
    dataset = cfg.test_dataloader.dataset
    while 'pipeline' not in dataset:
        if 'datasets' in dataset and dataset['datasets']:
            dataset = dataset['datasets'][0]
        elif 'dataset' in dataset:
            dataset = dataset['dataset']
        else:
            raise KeyError(
                'test_dataloader.dataset has no pipeline (nor a wrapped '
                'dataset with one); inference uses the test pipeline, so '
                'give the config a test_dataloader.dataset.pipeline')
    return dataset['pipeline']


def _inference_pipeline(cfg: Config, in_channels: Optional[int]) -> Compose:
    """The test pipeline without annotation loading, starting from a loader.

    Synthetic datasets generate images in the dataset and their pipelines
    have no loading step; inference from files needs one, so it is added
    with the colour type the model expects.
    """
    pipeline = [dict(t) for t in _test_pipeline(cfg)]
    # Inference has the input image only: no annotations, no clean image,
    # no synthetic degradation.
    pipeline = [t for t in pipeline if not _skipped_at_inference(t)]
    if not pipeline or 'Load' not in _type_name(pipeline[0]):
        loader = None
        for t in pipeline:  # the packer knows how its inputs are read
            loader = getattr(_transform_class(t), 'inference_loader', None)
            if loader is not None:
                break
        if loader is None:
            color_type = 'grayscale' if in_channels == 1 else 'color'
            loader = dict(type='LoadISTDImageFromFile', color_type=color_type)
        pipeline.insert(0, dict(loader))
    return Compose(pipeline)


def _type_name(transform: dict) -> str:
    kind = transform['type']
    return kind if isinstance(kind, str) else kind.__name__


def _transform_class(transform: dict):
    kind = transform['type']
    return TRANSFORMS.get(kind) if isinstance(kind, str) else kind


def _skipped_at_inference(transform: dict) -> bool:
    if any(word in _type_name(transform) for word in _NEEDS_GROUND_TRUTH):
        return True
    return bool(getattr(_transform_class(transform), 'skip_at_inference',
                        False))


def _load_kspace_mask(mask, shape) -> torch.Tensor:
    """A centred k-space sampling mask (path to ``.npy`` / image, or array)
    as float32 (1, H, W) in {0, 1}, checked against the image ``shape``."""
    source = 'kspace_mask'
    if isinstance(mask, (str, Path)):
        source = str(mask)
        if not Path(mask).is_file():
            raise FileNotFoundError(f'k-space mask file not found: {source!r}')
        if source.endswith('.npy'):
            mask = np.load(source)
        else:
            from dunseg.datasets.transforms.loading import (
                decode_image_unchanged,
            )
            mask = decode_image_unchanged(source, what='k-space mask')
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0] if mask.shape[2] in (1, 3, 4) else mask[0]
    if mask.shape != tuple(shape):
        raise ValueError(
            f'the k-space mask {source!r} is {mask.shape} but the image is '
            f'{tuple(shape)}; give the mask the slice was undersampled with')
    mask = (mask > 0).astype(np.float32)
    h, w = mask.shape
    if mask[h // 2, w // 2] == 0 and mask[0, 0] > 0:
        raise ValueError(
            f'the k-space mask {source!r} samples the corner but not the '
            'centre: it is in FFT order; dunseg masks are centred (DC at '
            '(H//2, W//2)): pass np.fft.fftshift(mask)')
    return torch.from_numpy(mask)[None]


def _array_to_unit_range(image: np.ndarray,
                         bit_depth: Optional[int] = None) -> np.ndarray:
    """uint8 / uint16 / float array -> float32 (H, W, C) in [0, 1].

    Integer arrays are divided by the maximum of their dtype, or by
    ``2**bit_depth - 1``; a uint16 array using under 1/16 of its range
    without ``bit_depth`` is logged as a WARNING.
    """
    from dunseg.datasets.transforms.loading import integer_to_unit_float
    image = np.asarray(image)
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        image = integer_to_unit_float(image, 'the input array', bit_depth)
    elif bit_depth is not None:
        raise ValueError(f'bit_depth={bit_depth} applies to uint8 / uint16 '
                         f'arrays, got a {image.dtype} array')
    else:
        image = image.astype(np.float32)
        check_finite_image(image, 'the input array')
        if image.size and (image.min() < 0 or image.max() > 1):
            raise ValueError(
                'float images must lie in [0, 1], got range '
                f'[{image.min():.3g}, {image.max():.3g}]; pass uint8/uint16 '
                'arrays or rescale')
    return image[..., None] if image.ndim == 2 else image


@torch.no_grad()
def inference_model(model: torch.nn.Module,
                    images: Union[ImageType, Sequence[ImageType]],
                    return_stages: bool = False,
                    kspace_mask=None,
                    slice_index: Optional[int] = None,
                    bit_depth: Optional[int] = None
                    ) -> Union[DunSegDataSample, List[DunSegDataSample]]:
    """Run a model on image file(s) or array(s) through its test pipeline.

    Transforms that need ground truth or synthesise the degradation are
    dropped (the input is the degraded image); a loader fitting the
    pipeline's packer is put first (medical pipelines read PNG, ``.npy``,
    DICOM and NIfTI slices, :class:`~dunseg.datasets.transforms.
    LoadMedicalSliceFromFile`).

    Args:
        model: A model from :func:`init_model` (``model.cfg`` is used).
        images: Path(s) or H x W (x C) array(s) (uint8, uint16 or float in
            [0, 1]).
        return_stages (bool): Also return every stage's state.
        kspace_mask: The centred k-space sampling mask the (undersampled)
            image was made with: a ``.npy`` / image path or an (H, W)
            array, nonzero = sampled. Needed by models that use the known
            operator (VL-DUN with ``physical_operator=True``); the same
            mask for every image.
        slice_index (int, optional): Slice of volume files (NIfTI, DICOM
            multi-frame, 3-D ``.npy``); None = the middle one.
        bit_depth (int, optional): Bit depth of integer images (e.g. 12 for
            12-bit sensor data stored in 16-bit PNGs: divide by 4095).
            None = the full range of the dtype (65535 for 16-bit files; a
            16-bit image with a maximum under 4096 is then logged as a
            WARNING). Needs a loader with a ``bit_depth`` option
            (:class:`~dunseg.datasets.transforms.LoadISTDImageFromFile` and
            its subclasses, the infrared and COD pipelines).

    Returns:
        The data sample(s) with the predictions (``pred_score`` /
        ``pred_mask`` for segmentation, ``pred_image`` and the recognised
        degradation for restoration) and, on request, ``stage_states``.
    """
    single = isinstance(images, (str, Path, np.ndarray))
    batch = [images] if single else list(images)
    cfg = model.cfg
    init_default_scope(cfg.get('default_scope', 'dunseg'))
    in_channels = getattr(model.data_preprocessor, 'in_channels', None)
    if getattr(model, 'needs_kspace_mask', False) and kspace_mask is None:
        raise ValueError(
            f'{type(model).__name__} uses the known k-space operator '
            '(model.backbone.physical_operator=True) and needs the sampling '
            'mask the input was undersampled with: pass kspace_mask= '
            '(demo/image_demo.py --kspace-mask MASK.npy|.png, centred, '
            'nonzero = sampled, the image\'s size)')
    pipeline = _inference_pipeline(cfg, in_channels)
    if bit_depth is not None:
        from dunseg.datasets.transforms.loading import check_bit_depth
        bit_depth = check_bit_depth(bit_depth, 'inference_model')
    if bit_depth is not None and not all(
            isinstance(image, np.ndarray) for image in batch):
        loader = pipeline.transforms[0]  # reads the files
        if not hasattr(loader, 'bit_depth') or \
                getattr(loader, 'scale', 'dtype_max') != 'dtype_max':
            raise ValueError(
                f'bit_depth={bit_depth} needs an image loader with a '
                f'bit_depth option and no scale; this model\'s test pipeline '
                f'loads with {type(loader).__name__}, which has none (or sets '
                'scale): convert the images to 8-bit or full-range 16-bit')
        loader.bit_depth = bit_depth
    results = []
    previous = getattr(model, 'return_stages', False)
    model.return_stages = return_stages
    try:
        for image in batch:
            if isinstance(image, np.ndarray):
                array = _array_to_unit_range(image, bit_depth)
                if in_channels == 1 and array.shape[2] == 3:
                    array = array.mean(axis=2, keepdims=True)
                # skip the loader: the array is already decoded
                data = dict(img=array, img_path=None,
                            img_shape=array.shape[:2],
                            ori_shape=array.shape[:2])
                for transform in pipeline.transforms[1:]:
                    data = transform(data)
            else:
                if not Path(image).is_file():
                    raise FileNotFoundError(
                        f'image file not found: {str(image)!r}; check the '
                        'path (relative paths start from the current '
                        f'directory, {Path.cwd()})')
                request = dict(img_path=str(image))
                if slice_index is not None:
                    request['slice_index'] = slice_index
                data = pipeline(request)
            if kspace_mask is not None:
                data['data_samples'].kspace_mask = PixelData(
                    data=_load_kspace_mask(kspace_mask,
                                           data['inputs'].shape[-2:]))
            sample = model.test_step(pseudo_collate([data]))[0]
            bad = non_finite_predictions(sample)
            if bad:
                source = image if isinstance(image, (str, Path)) else \
                    'the input array'
                raise FloatingPointError(
                    f'{type(model).__name__} produced NaN or infinite '
                    f'values in {", ".join(bad)} for {str(source)!r}, whose '
                    'pixels are finite: the weights are broken (a diverged '
                    'training run or a damaged checkpoint), so nothing is '
                    'drawn or reported from them')
            sample.input_image = PixelData(data=data['inputs'])
            results.append(sample)
    finally:
        model.return_stages = previous
    return results[0] if single else results
