# The embedded phantoms (synthetic_phantom.py) at the size of the tiny
# VL-DUN and U-Net recipes: 64 x 64 slices, 2,000 training / 100
# validation / 200 test images, batch 8, one loader worker.
_base_ = ['./synthetic_phantom.py']
img_size = 64
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(img_size=img_size, num_samples=2000))
val_dataloader = dict(
    num_workers=1, dataset=dict(img_size=img_size, num_samples=100))
test_dataloader = dict(
    num_workers=1, dataset=dict(img_size=img_size, num_samples=200))
