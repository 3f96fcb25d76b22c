"""Degradation physics: linear operators (with exact adjoints), kernel and
sampling-mask generators, and non-linear degradation synthesizers.

- :mod:`.operators`: :class:`Blur`, :class:`Downsample`, :class:`KSpaceMask`
  (``A`` / ``A_adjoint`` on ``(N, C, H, W)`` tensors), :func:`cartesian_mask`,
  :func:`radial_mask`.
- :mod:`.kernels`: Gaussian / motion-blur kernels, bicubic resize matrices.
- :mod:`.synthesizers`: noise, haze, rain, blur, low light, JPEG, and
  :func:`synthesize` (degradation name -> model).
"""
from .kernels import (
                      bicubic_weights,
                      gaussian_kernel,
                      motion_blur_kernel,
                      random_motion_kernel,
                      resize_matrix,
)
from .operators import (
                      Blur,
                      Downsample,
                      KSpaceMask,
                      LinearOperator,
                      cartesian_mask,
                      radial_mask,
)
from .synthesizers import (
                      NOISE_SIGMAS,
                      SYNTHESIZABLE,
                      add_gaussian_noise,
                      add_haze,
                      add_rain,
                      blur_image,
                      jpeg_compress,
                      low_light,
                      practical_blur,
                      practical_lowres,
                      rain_streak_layer,
                      random_blur_kernel,
                      smooth_depth_map,
                      synthesize,
)

__all__ = [
    'LinearOperator', 'Blur', 'Downsample', 'KSpaceMask', 'cartesian_mask',
    'radial_mask', 'gaussian_kernel', 'motion_blur_kernel',
    'random_motion_kernel', 'bicubic_weights', 'resize_matrix', 'NOISE_SIGMAS',
    'SYNTHESIZABLE', 'add_gaussian_noise', 'smooth_depth_map', 'add_haze',
    'rain_streak_layer', 'add_rain', 'blur_image', 'random_blur_kernel',
    'low_light', 'jpeg_compress', 'practical_blur', 'practical_lowres',
    'synthesize'
]
