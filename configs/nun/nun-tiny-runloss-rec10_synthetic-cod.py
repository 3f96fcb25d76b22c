# nun-tiny-runloss_synthetic-cod.py with the restoration loss weighted 10.
# The NUN paper gives no weight for ||X_k - X||^2 in L_basic. At weight 1 the
# mask losses, which also reach DeRUN through the restorations the next
# stages segment, drive DeRUN 2.5 times harder than the restoration loss
# does (gradient norms on a training batch of the trained NUN-tiny: 0.70
# against 0.28), and it turns clean test images into 20-21 dB versions of
# themselves. Weight 10 makes restoration DeRUN's main objective again.
_base_ = ['./nun-tiny-runloss_synthetic-cod.py']
model = dict(
    restoration_loss=dict(type='MSELoss', loss_weight=10.0,
                          loss_name='loss_restoration'))
