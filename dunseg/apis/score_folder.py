"""Score a model on a folder of the user's own images.

The images given to the model (``degraded_dir``) are matched by file stem
with optional clean references (``clean_dir``) and binary object masks
(``masks_dir``). Every image goes through :func:`~dunseg.apis.
inference_model`, so the model sees it exactly as ``demo/image_demo.py``
shows it: read by the config's test-pipeline loader and brought to the
config's test scale (e.g. ``ResizeCOD`` to 352x352 for NUN / RUN,
``CenterCropToMultiple(16)`` for VLU-Net, ``ResizeMedical`` for VL-DUN;
configs without a resize run at the image's own size).

Scores are taken at the image's **native size**: a prediction made at
another size is brought back (padding removed, then resized bilinearly,
``align_corners=False``, as :class:`~dunseg.evaluation.CODMetric` resizes
score maps). A centre crop cannot be undone, so there the crop is scored,
the degraded input and every baseline on the same crop.

- Restorers (the predictions carry ``pred_image``: VLU-Net, NUN's and
  VL-DUN's restorations): PSNR / SSIM (:func:`~dunseg.evaluation.
  psnr_ssim`) of the output and of the degraded input against the clean
  reference, and how many outputs are worse than their input.
- Binary segmentors (a one-channel ``pred_score``: RUN, NUN, RPCANet): the
  COD metrics of :mod:`~dunseg.evaluation.metrics.cod_metric` for the
  model beside the training-free :data:`~dunseg.evaluation.COD_BASELINES`
  (a centred Gaussian and an all-zero map).
- Multi-class segmentors (VL-DUN's ``pred_score`` of C classes): per-class
  Dice / IoU (:func:`~dunseg.evaluation.metrics.segmentation_scores`)
  against class-index masks.

Without references only what needs none is reported (how much a restorer
changed the image, the share of pixels a segmentor marks, the recognised
degradation).
"""
import json
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from dunseg.engine.runner import (
    MissingCheckpointError,
    _has_learned_parameters,
)
from dunseg.evaluation.cod_baselines import COD_BASELINES
from dunseg.evaluation.metrics.cod_metric import (
    COD_METRIC_KEYS,
    evaluate_cod_image,
    gt_to_uint8,
    prediction_to_uint8,
    read_map,
    summarize_cod_records,
)
from dunseg.evaluation.metrics.restoration_metric import MAX_PSNR, psnr_ssim

from .inference import _inference_pipeline, inference_model, init_model

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff',
                    '.webp')
#: Slice files the medical loaders read besides images.
MEDICAL_EXTENSIONS = ('.npy', '.dcm', '.nii', '.nii.gz')
#: Identical images score this (``psnr_ssim``'s cap) instead of an infinite
#: PSNR, so a mean over a folder stays a number (the record says
#: ``identical``).
PSNR_CAP_DB = MAX_PSNR
#: skimage's SSIM window is 7x7.
MIN_SIDE = 7
#: The per-image COD scores kept in the JSON (the curves are averaged into
#: the summary only).
_COD_IMAGE_KEYS = ('Sm', 'wFm', 'MAE', 'adpEm', 'adpFm')

RESIZE_POLICY = (
    'the model sees each image as demo/image_demo.py does (the config\'s '
    'test pipeline: its resize or crop, else the native size); scores are '
    'taken at the native size, the prediction brought back bilinearly '
    '(padding removed first); a centre crop is scored on the crop, the '
    'input and the baselines too; --model-size resizes every image to H x '
    'W before that pipeline')


class FolderLayoutError(ValueError):
    """The folders do not fit together (missing stems, sizes, masks)."""


def _stem(filename: str) -> str:
    lower = filename.lower()
    for ext in sorted(IMAGE_EXTENSIONS + MEDICAL_EXTENSIONS, key=len,
                      reverse=True):
        if lower.endswith(ext):
            return filename[:-len(ext)]
    return osp.splitext(filename)[0]


def list_images(folder: str, flag: str,
                extensions: Sequence[str] = IMAGE_EXTENSIONS
                ) -> Dict[str, str]:
    """``{stem: path}`` of the image files in ``folder`` (sorted by name).

    Raises:
        FileNotFoundError: ``folder`` is missing or no directory.
        FolderLayoutError: it holds no image file, or two files share a
            stem (``cat.png`` and ``cat.jpg``: which one is meant?).
    """
    if not osp.isdir(folder):
        what = 'a file, not a folder' if osp.exists(folder) else 'not found'
        raise FileNotFoundError(
            f'{flag} {folder!r}: {what}; pass the folder that holds the '
            'images (relative paths start from the current directory, '
            f'{os.getcwd()})')
    found: Dict[str, str] = {}
    duplicates = []
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if name.startswith('.') or not osp.isfile(path) or not any(
                name.lower().endswith(ext) for ext in extensions):
            continue
        stem = _stem(name)
        if stem in found:
            duplicates.append(f'{osp.basename(found[stem])} / {name}')
            continue
        found[stem] = path
    if duplicates:
        raise FolderLayoutError(
            f'{flag} {folder!r}: files share a stem, so references cannot '
            f'be matched to them: {", ".join(duplicates[:5])}; keep one file '
            'per picture')
    if not found:
        raise FolderLayoutError(
            f'{flag} {folder!r} holds no image file ({", ".join(extensions)}'
            '); put the images there or point the flag at their folder')
    return found


def match_by_stem(degraded: Dict[str, str], folder: str,
                  flag: str, extensions: Sequence[str] = IMAGE_EXTENSIONS
                  ) -> Dict[str, str]:
    """The file of ``folder`` for every degraded stem; a stem without one
    is a :class:`FolderLayoutError` listing them."""
    files = list_images(folder, flag, extensions)
    missing = [s for s in degraded if s not in files]
    if missing:
        shown = ', '.join(missing[:10]) + (
            f' ... ({len(missing) - 10} more)' if len(missing) > 10 else '')
        raise FolderLayoutError(
            f'{len(missing)} of {len(degraded)} degraded images have no '
            f'file of the same stem in {flag} {folder!r}: {shown}; name each '
            'reference like its degraded image (cat.jpg -> cat.png), or '
            'move the unmatched images out of the degraded folder')
    return {s: files[s] for s in degraded}


def read_mask(path: str, shape: Tuple[int, int],
              num_classes: Optional[int] = None) -> np.ndarray:
    """An (H, W) uint8 mask of ``shape``: {0, 1} for a binary segmentor
    (files in {0, 1} or {0, 255}), class indices below ``num_classes``
    for a multi-class one."""
    mask = read_map(path)
    if mask.shape != tuple(shape):
        raise FolderLayoutError(
            f'mask {path!r} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its '
            f'degraded image is {shape[1]}x{shape[0]}; give the mask at the '
            'image\'s size')
    values = np.unique(mask)
    if num_classes is not None:
        if values.max() >= num_classes:
            raise FolderLayoutError(
                f'mask {path!r} holds the value {int(values.max())} but the '
                f'model has {num_classes} classes (0 .. {num_classes - 1}); '
                'save class indices, not colours or 0/255')
        return mask
    if not (set(values.tolist()) <= {0, 1} or
            set(values.tolist()) <= {0, 255}):
        shown = ', '.join(str(v) for v in values[:8].tolist())
        raise FolderLayoutError(
            f'mask {path!r} is not binary: {len(values)} grey levels ('
            f'{shown}{" ..." if len(values) > 8 else ""}); save it as a PNG '
            'with 0 for background and 255 (or 1) for the object (JPEG '
            'compression adds grey levels at the edges)')
    return (mask > 0).astype(np.uint8)


def _hw_of(image: np.ndarray) -> Tuple[int, int]:
    return tuple(int(s) for s in image.shape[:2])


def _to_chw(image: np.ndarray) -> torch.Tensor:
    """A loader's (H, W[, C]) float image as a (C, H, W) tensor."""
    image = np.asarray(image, np.float32)
    if image.ndim == 2:
        image = image[..., None]
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def model_region(native_hw: Sequence[int], model_hw: Sequence[int],
                 transforms: Sequence) -> Tuple[tuple, Optional[tuple]]:
    """Where a prediction of ``model_hw`` lies in the native image.

    Returns ``(region, content)``: ``region`` = (top, left, height, width)
    of the native image the prediction covers (all of it unless the
    pipeline centre-crops), ``content`` = (top, left, height, width) of the
    prediction that holds the picture (None: all of it; a keep-ratio resize
    pads the rest). The content is resized to the region.
    """
    from dunseg.datasets.transforms.medical import ResizeMedical
    from dunseg.datasets.transforms.restoration import CenterCropToMultiple
    (H, W), (h, w) = tuple(native_hw), tuple(model_hw)
    full = (0, 0, H, W)
    if (h, w) == (H, W):
        return full, None
    for t in transforms:
        if isinstance(t, ResizeMedical) and t.keep_ratio:
            # ResizeMedical's own fit: scaled by the smaller ratio, centred
            ratio = min(h / H, w / W)
            nh, nw = max(1, round(H * ratio)), max(1, round(W * ratio))
            return full, ((h - nh) // 2, (w - nw) // 2, nh, nw)
        if isinstance(t, CenterCropToMultiple) and h <= H and w <= W:
            return ((H - h) // 2, (W - w) // 2, h, w), None
    return full, None  # a plain resize (ResizeCOD, ResizeISTD ...)


def to_native(prediction: torch.Tensor, region: tuple,
              content: Optional[tuple], mode: str = 'bilinear'
              ) -> torch.Tensor:
    """A (C, h, w) prediction as (C, height, width) of the native
    ``region`` (see :func:`model_region`)."""
    prediction = prediction.detach().float().cpu()
    if content is not None:
        top, left, ch, cw = content
        prediction = prediction[:, top:top + ch, left:left + cw]
    size = tuple(region[2:])
    if tuple(prediction.shape[-2:]) != size:
        kwargs = dict(align_corners=False) if mode == 'bilinear' else {}
        prediction = F.interpolate(prediction[None], size=size, mode=mode,
                                   **kwargs)[0]
    return prediction


def _crop(image: torch.Tensor, region: tuple) -> torch.Tensor:
    top, left, h, w = region
    return image[..., top:top + h, left:left + w]


def _psnr_ssim(pred: torch.Tensor, gt: torch.Tensor) -> Tuple[float, float,
                                                                bool]:
    """PSNR (capped at :data:`PSNR_CAP_DB` by :func:`psnr_ssim`), SSIM and
    whether the images are identical (after the same [0, 1] clamp)."""
    psnr, ssim = psnr_ssim(pred, gt)
    identical = bool(torch.equal(
        torch.as_tensor(pred).clamp(0, 1).float(),
        torch.as_tensor(gt).float()))
    return min(psnr, PSNR_CAP_DB), ssim, identical


def load_model(config: str, checkpoint: Optional[str],
               random_weights: bool = False, device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """:func:`init_model`, refusing a learned model without a checkpoint
    unless ``random_weights`` (its scores would judge a random start)."""
    model = init_model(config, checkpoint, device=device,
                       cfg_options=cfg_options)
    if checkpoint is None and not random_weights and \
            _has_learned_parameters(model):
        raise MissingCheckpointError(
            f'no checkpoint given for {type(model).__name__}, which has '
            'learned parameters: its scores would judge a random '
            'initialisation. Pass the checkpoint (CONFIG CHECKPOINT), or '
            '--random-weights to score the untrained model on purpose.')
    model.random_weights = checkpoint is None
    return model


def _write_png(path: str, rgb_or_grey: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = rgb_or_grey
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, image):
        raise OSError(f'could not write {path!r}; check that the output '
                      'folder is writable')


def _u8(image_chw: torch.Tensor) -> np.ndarray:
    image = image_chw.clamp(0, 1).numpy().transpose(1, 2, 0)
    image = (image * 255 + 0.5).astype(np.uint8)
    return image[..., 0] if image.shape[2] == 1 else image


def _check_size(path: str, hw: Tuple[int, int], flag: str) -> None:
    if min(hw) < MIN_SIDE:
        raise FolderLayoutError(
            f'{flag} image {path!r} is {hw[1]}x{hw[0]}: SSIM needs at least '
            f'{MIN_SIDE}x{MIN_SIDE} pixels; leave it out')


def score_folder(model: torch.nn.Module,
                 degraded_dir: str,
                 clean_dir: Optional[str] = None,
                 masks_dir: Optional[str] = None,
                 out_dir: Optional[str] = None,
                 grid: bool = False,
                 save_outputs: bool = True,
                 kspace_mask=None,
                 bit_depth: Optional[int] = None,
                 slice_index: Optional[int] = None,
                 model_size: Optional[Sequence[int]] = None,
                 log: Callable[[str], None] = print) -> dict:
    """Run ``model`` on every image of ``degraded_dir`` and score it.

    Args:
        model: From :func:`load_model` / :func:`init_model`.
        degraded_dir (str): The images given to the model.
        clean_dir (str, optional): Clean references, same stems and sizes.
        masks_dir (str, optional): Object masks (binary, or class indices
            for a multi-class model), same stems and sizes.
        out_dir (str, optional): Where ``scores.json``, ``restored/``,
            ``masks/`` and (``grid``) ``grids/`` go.
        grid (bool): Draw every image's stages (``grids/<stem>.png``).
        save_outputs (bool): Save the restored images / score maps.
        kspace_mask, bit_depth, slice_index: As for
            :func:`inference_model`.
        model_size (tuple[int, int], optional): (H, W) every image is
            resized to (area when shrinking, bilinear when enlarging)
            before the test pipeline, e.g. the training size of a model
            whose config has no resize (the tiny embedded ones: 64x64);
            scores stay at the native size.
        log: Called with one line per image.

    Returns:
        dict: ``images`` (one record per image) and ``summary``; also
        written to ``<out_dir>/scores.json``.
    """
    medical = _is_medical(model)
    extensions = IMAGE_EXTENSIONS + (MEDICAL_EXTENSIONS if medical else ())
    degraded = list_images(degraded_dir, '--degraded', extensions)
    clean = (match_by_stem(degraded, clean_dir, '--clean', extensions)
             if clean_dir else {})
    masks = (match_by_stem(degraded, masks_dir, '--masks')
             if masks_dir else {})
    pipeline = _inference_pipeline(model.cfg, getattr(
        model.data_preprocessor, 'in_channels', None))
    loader = pipeline.transforms[0]
    if bit_depth is not None and hasattr(loader, 'bit_depth'):
        loader.bit_depth = bit_depth

    def read(path):
        request = dict(img_path=path)
        if slice_index is not None:
            request['slice_index'] = slice_index
        return loader(request)['img']

    # every layout problem is reported before the model runs
    natives, references, gt_masks = {}, {}, {}
    for stem, path in degraded.items():
        image = read(path)
        natives[stem] = _to_chw(image)
        if stem in clean:
            reference = read(clean[stem])
            if _hw_of(reference) != _hw_of(image):
                h, w = _hw_of(reference)
                raise FolderLayoutError(
                    f'clean image {clean[stem]!r} is {w}x{h} (WxH) but the '
                    f'degraded {path!r} is {image.shape[1]}x'
                    f'{image.shape[0]}; a reference must be the same '
                    'picture at the same size (resize or crop one to the '
                    'other)')
            _check_size(path, _hw_of(image), '--degraded')
            references[stem] = _to_chw(reference)
        if stem in masks:
            gt_masks[stem] = masks[stem]  # read once the model is known

    visualizer = None
    if grid:
        from dunseg.visualization import DunSegVisualizer
        visualizer = DunSegVisualizer.get_instance('dunseg_score_folder')
        if getattr(model, 'dataset_meta', None):
            visualizer.dataset_meta = model.dataset_meta
    records: List[dict] = []
    kinds = None
    if model_size is not None:
        model_size = _check_model_size(model_size, medical)
    for stem, path in degraded.items():
        if model_size is None:
            result = inference_model(model, path, return_stages=grid,
                                     kspace_mask=kspace_mask,
                                     slice_index=slice_index,
                                     bit_depth=bit_depth)
        else:  # the file was read above (bit depth, slice) and is resized
            result = inference_model(
                model, _resized(natives[stem], model_size),
                return_stages=grid, kspace_mask=kspace_mask)
        geometry = _geometry(natives[stem], result, pipeline.transforms,
                             model_size)
        if kinds is None:
            kinds = _prediction_kinds(result)
            _check_references(kinds, model, clean_dir, masks_dir)
        record = _score_one(stem, path, result, natives[stem],
                            references.get(stem), gt_masks.get(stem),
                            clean.get(stem), kinds, geometry,
                            out_dir if save_outputs else None)
        if visualizer is not None and out_dir is not None:
            canvas = visualizer.render(result.input_image.data, result,
                                       draw_gt=False, draw_stages=True)
            grid_path = osp.join(out_dir, 'grids', f'{stem}.png')
            _write_png(grid_path, canvas)
            record['grid'] = grid_path
        records.append(record)
        log(_image_line(record))
    results = OrderedDict(
        model=type(model).__name__,
        weights=('random initialisation: no checkpoint was loaded '
                 '(--random-weights)' if getattr(model, 'random_weights',
                                                 False) else 'checkpoint'),
        degraded_dir=degraded_dir, clean_dir=clean_dir, masks_dir=masks_dir,
        predicts=sorted(kinds), resize_policy=RESIZE_POLICY,
        model_size_hw=list(model_size) if model_size else None,
        psnr_cap_db=PSNR_CAP_DB,
        summary=summarize(records), images=records)
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        with open(osp.join(out_dir, 'scores.json'), 'w') as f:
            json.dump(results, f, indent=1)
    return results


def _check_model_size(model_size, medical: bool) -> Tuple[int, int]:
    size = tuple(int(v) for v in model_size)
    if len(size) != 2 or min(size) < MIN_SIDE:
        raise ValueError(f'--model-size must be two sizes H W of at least '
                         f'{MIN_SIDE} pixels, got {list(model_size)}')
    if medical:
        raise ValueError(
            '--model-size is for image models: the medical configs bring '
            'slices to their working size themselves (ResizeMedical) or run '
            'at the slice\'s own size, as their k-space mask needs')
    return size


def _resized(native: torch.Tensor, size: Tuple[int, int]) -> np.ndarray:
    """A (C, H, W) image as an (h, w, C) float array in [0, 1]."""
    image = native.numpy().transpose(1, 2, 0)
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    out = cv2.resize(image, (size[1], size[0]), interpolation=(
        cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
    out = out.reshape(size + (image.shape[2], ))
    return np.clip(out, 0, 1).astype(np.float32)


def _geometry(native: torch.Tensor, result, transforms,
              model_size) -> Tuple[tuple, Optional[tuple], tuple]:
    """``(region, content, model_hw)`` of :func:`model_region`, for an
    image resized to ``model_size`` first when one is given."""
    native_hw = tuple(native.shape[-2:])
    model_hw = tuple(result.input_image.data.shape[-2:])
    if model_size is None:
        return model_region(native_hw, model_hw, transforms) + (model_hw, )
    region, content = model_region(model_size, model_hw, transforms)
    if region != (0, 0) + tuple(model_size):
        raise ValueError(
            f'--model-size {model_size[0]} {model_size[1]} is cropped to '
            f'{model_hw[0]} {model_hw[1]} by the config\'s test pipeline; '
            f'pass a size it keeps, e.g. --model-size {model_hw[0]} '
            f'{model_hw[1]}')
    return (0, 0) + native_hw, content, model_hw


def _is_medical(model) -> bool:
    from dunseg.datasets.transforms.medical import PackMedicalInputs
    pipeline = _inference_pipeline(model.cfg, None)
    return any(isinstance(t, PackMedicalInputs) for t in pipeline.transforms)


def _prediction_kinds(result) -> set:
    kinds = set()
    if 'pred_image' in result:
        kinds.add('restoration')
    if 'pred_score' in result:
        kinds.add('segmentation' if result.pred_score.data.shape[0] == 1
                  else 'multi-class segmentation')
    return kinds


def _check_references(kinds: set, model, clean_dir, masks_dir) -> None:
    name = type(model).__name__
    if clean_dir and 'restoration' not in kinds:
        raise FolderLayoutError(
            f'--clean {clean_dir!r} given, but {name} restores nothing (its '
            'predictions carry no restored image): drop --clean, or score a '
            'restoration model (VLU-Net, NUN, VL-DUN)')
    if masks_dir and not kinds & {'segmentation',
                                  'multi-class segmentation'}:
        raise FolderLayoutError(
            f'--masks {masks_dir!r} given, but {name} predicts no mask: drop '
            '--masks, or score a segmentation model (RUN, NUN, RPCANet, '
            'VL-DUN)')


def _score_one(stem, path, result, native, reference, mask_path,
               clean_path, kinds, geometry, out_dir) -> dict:
    native_hw = tuple(native.shape[-2:])
    region, content, model_hw = geometry
    record = OrderedDict(
        image=stem, degraded=path,
        native_size_wh=[native_hw[1], native_hw[0]],
        model_size_wh=[model_hw[1], model_hw[0]],
        scored_region=dict(zip(('top', 'left', 'height', 'width'),
                               (int(v) for v in region))))
    no_reference = OrderedDict()
    for kind in ('modality', 'degradation'):
        if result.metainfo.get(f'pred_{kind}') is not None:
            no_reference[f'recognised_{kind}'] = str(
                result.metainfo[f'pred_{kind}'])
    degraded = _crop(native, region)
    if 'restoration' in kinds:
        restored = to_native(result.pred_image.data, region, content)
        no_reference['mean_abs_change_8bit'] = round(float(
            (restored.clamp(0, 1) - degraded).abs().mean()) * 255, 3)
        if out_dir is not None:
            record['restored'] = osp.join(out_dir, 'restored', f'{stem}.png')
            _write_png(record['restored'], _u8(restored))
        if reference is not None:
            clean = _crop(reference, region)
            psnr, ssim, _ = _psnr_ssim(restored, clean)
            in_psnr, in_ssim, identical = _psnr_ssim(degraded, clean)
            record['clean'] = clean_path
            record['restoration'] = OrderedDict(
                PSNR=psnr, SSIM=ssim, input_PSNR=in_psnr, input_SSIM=in_ssim,
                input_identical_to_clean=identical)
    if 'segmentation' in kinds:
        score = to_native(result.pred_score.data, region, content)
        pred_u8 = prediction_to_uint8(score)
        no_reference['object_share'] = round(
            float((score >= 0.5).float().mean()), 4)
        if out_dir is not None:
            record['score_map'] = osp.join(out_dir, 'masks', f'{stem}.png')
            _write_png(record['score_map'], pred_u8)
        if mask_path is not None:
            gt = _crop(torch.from_numpy(read_mask(mask_path, native_hw)),
                       region).numpy()
            gt = gt_to_uint8(gt)
            cod = OrderedDict(model=evaluate_cod_image(pred_u8, gt))
            for name, baseline in COD_BASELINES.items():
                cod[name] = evaluate_cod_image(
                    prediction_to_uint8(baseline(gt.shape)), gt)
            record['mask'] = mask_path
            record['segmentation'] = cod
    if 'multi-class segmentation' in kinds:
        scores = to_native(result.pred_score.data, region, content)
        labels = scores.argmax(0).to(torch.uint8)
        num_classes = scores.shape[0]
        counts = torch.bincount(labels.flatten().long(),
                                minlength=num_classes)
        no_reference['class_share'] = [
            round(float(c) / labels.numel(), 4) for c in counts]
        if out_dir is not None:
            record['class_map'] = osp.join(out_dir, 'masks', f'{stem}.png')
            _write_png(record['class_map'], labels.numpy())
        if mask_path is not None:
            from dunseg.evaluation.metrics.medical_metric import (
                segmentation_scores,
            )
            gt = torch.from_numpy(read_mask(mask_path, native_hw,
                                            num_classes))
            gt = _crop(gt, region)
            values = segmentation_scores(labels[None].long(),
                                         gt[None].long(), num_classes)
            record['mask'] = mask_path
            record['multi_class_segmentation'] = OrderedDict(
                (key, [None if np.isnan(v) else float(v) for v in arr])
                for key, arr in values.items())
    record['no_reference'] = no_reference
    return record


def summarize(records: Sequence[dict]) -> dict:
    """The folder's means (restoration), COD metrics (model and baselines)
    and mean foreground Dice / IoU (multi-class)."""
    summary = OrderedDict(num_images=len(records))
    restored = [r['restoration'] for r in records if 'restoration' in r]
    if restored:
        mean = {k: float(np.mean([r[k] for r in restored]))
                for k in ('PSNR', 'SSIM', 'input_PSNR', 'input_SSIM')}
        summary['restoration'] = OrderedDict(
            num_images=len(restored), **mean,
            worse_than_input_PSNR=sum(r['PSNR'] < r['input_PSNR']
                                      for r in restored),
            worse_than_input_SSIM=sum(r['SSIM'] < r['input_SSIM']
                                      for r in restored),
            inputs_identical_to_clean=sum(r['input_identical_to_clean']
                                          for r in restored))
    segmented = [r['segmentation'] for r in records if 'segmentation' in r]
    if segmented:
        summary['segmentation'] = OrderedDict(
            (name, summarize_cod_records([r[name] for r in segmented]))
            for name in segmented[0])
        summary['segmentation']['num_images'] = len(segmented)
        for r in records:  # per image: the scalar scores only
            if 'segmentation' in r:
                r['segmentation'] = OrderedDict(
                    (name, OrderedDict((k, values[k])
                                       for k in _COD_IMAGE_KEYS))
                    for name, values in r['segmentation'].items())
    multi = [r['multi_class_segmentation'] for r in records
             if 'multi_class_segmentation' in r]
    if multi:
        summary['multi_class_segmentation'] = OrderedDict(
            num_images=len(multi))
        for key in multi[0]:
            per_class = np.array([[np.nan if v is None else v for v in m[key]]
                                  for m in multi], np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)
                means = np.nanmean(per_class, axis=0)
            summary['multi_class_segmentation'][f'mean_{key}_per_class'] = [
                None if np.isnan(v) else float(v) for v in means]
            foreground = means[1:]
            summary['multi_class_segmentation'][f'foreground_{key}'] = (
                float(np.nanmean(foreground))
                if np.isfinite(foreground).any() else None)
    return summary


def _image_line(record: dict) -> str:
    parts = [f'{record["image"]} ({record["native_size_wh"][0]}x'
             f'{record["native_size_wh"][1]})']
    if 'restoration' in record:
        r = record['restoration']
        parts.append(f'PSNR {r["PSNR"]:.2f} dB (input {r["input_PSNR"]:.2f})'
                     f', SSIM {r["SSIM"]:.4f} (input {r["input_SSIM"]:.4f})')
    if 'segmentation' in record:
        m = record['segmentation']['model']
        parts.append(f'Sα {m["Sm"]:.3f}, MAE {m["MAE"]:.3f}')
    if 'multi_class_segmentation' in record:
        dice = [v for v in record['multi_class_segmentation']['dice'][1:]
                if v is not None]
        parts.append('Dice (foreground) ' + (
            f'{np.mean(dice):.3f}' if dice else 'undefined'))
    for key, value in record['no_reference'].items():
        parts.append(f'{key} {value}')
    return f'{parts[0]}: ' + '; '.join(parts[1:])


def format_report(results: dict) -> str:
    """The summary as plain-text tables."""
    summary = results['summary']
    lines = [f'{summary["num_images"]} image(s) from '
             f'{results["degraded_dir"]}; model {results["model"]} '
             f'({results["weights"]})']
    restoration = summary.get('restoration')
    if restoration:
        n = restoration['num_images']
        lines += [
            '',
            f'{"restoration":<22}{"PSNR (dB)":>10}{"SSIM":>9}',
            f'{"model output":<22}{restoration["PSNR"]:>10.2f}'
            f'{restoration["SSIM"]:>9.4f}',
            f'{"input (degraded)":<22}{restoration["input_PSNR"]:>10.2f}'
            f'{restoration["input_SSIM"]:>9.4f}',
            f'worse than their input: {restoration["worse_than_input_PSNR"]}'
            f' of {n} (PSNR), {restoration["worse_than_input_SSIM"]} of {n} '
            '(SSIM)']
        if restoration['inputs_identical_to_clean']:
            lines.append(
                f'{restoration["inputs_identical_to_clean"]} input(s) equal '
                f'their clean image: counted as {PSNR_CAP_DB:.0f} dB')
    segmentation = summary.get('segmentation')
    if segmentation:
        lines += ['', f'{"segmentation":<18}' + ''.join(
            f'{k:>8}' for k in COD_METRIC_KEYS)]
        for name, values in segmentation.items():
            if name == 'num_images':
                continue
            lines.append(f'{name:<18}' + ''.join(
                f'{values[k]:>8.4f}' for k in COD_METRIC_KEYS))
    multi = summary.get('multi_class_segmentation')
    if multi:
        def fmt(value):
            return 'n/a' if value is None else f'{value:.4f}'
        lines += ['', f'multi-class segmentation over {multi["num_images"]} '
                  f'image(s): foreground Dice {fmt(multi["foreground_dice"])}'
                  f', IoU {fmt(multi["foreground_iou"])}',
                  'Dice per class: ' + ', '.join(
                      f'{k}: {fmt(v)}' for k, v in enumerate(
                          multi['mean_dice_per_class']))]
    if not (restoration or segmentation or multi):
        lines.append('no reference given (--clean / --masks): the outputs '
                     'are saved, the lines above say what needs no '
                     'reference')
    return '\n'.join(lines)
