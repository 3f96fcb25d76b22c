# VLU-Net-tiny whose output is chosen among its last four stages by NUN's
# input-aware quality selector (StageSelectionRestorer,
# docs/components.md): decoder levels 3, 2 and 1 are read out to images
# (conv3x3 + upsampling + the input), the fourth candidate is VLU-Net's own
# output (the refinement stage through the output conv), and
# InputAwareQualitySelector picks one per image from them and the degraded
# input. Everything else (data,
# prior, loss, schedule) is the parent's:
# configs/vlunet/vlunet_tiny_5k_synthetic-degradation-64x64.py.
#
# Loss: the parent's -PSNR on the chosen candidate, plus the same loss
# averaged over all four candidates (candidate_loss_weight), so the
# readouts the selector passes over still learn.
#
# Train (after the parent's step 1, the CLIP adapters) and compare with the
# parent on the same 700 test crops:
#   python tools/train.py configs/composition/vlunet-stage-select-input-aware_tiny_5k_synthetic-degradation-64x64.py \
#       --cfg-options model.prior_checkpoint=$(ls work_dirs/clip-adapter_tiny/best_accuracy_*.pth)
_base_ = ['../vlunet/vlunet_tiny_5k_synthetic-degradation-64x64.py']
model = dict(
    type='StageSelectionRestorer',
    selector=dict(type='InputAwareQualitySelector'),
    num_candidates=4,
    candidate_loss_weight=1.0)
