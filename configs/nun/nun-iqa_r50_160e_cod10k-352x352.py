# NUN-R50 with the paper's selector: TOPIQ-NR + Q-Align + MUSIQ (pyiqa), each
# min-max normalised over the candidates of an image, then summed.
#   pip install -e .[iqa]     (pyiqa; an optional extra)
# and set the local weight files (nothing is downloaded):
#   model.selector.topiq_weights, model.selector.musiq_weights
# Q-Align loads from the Hugging Face cache (about 16 GB).
_base_ = ['./nun_r50_160e_cod10k-352x352.py']
model = dict(selector=dict(_delete_=True, type='NUNIQASelector',
                           topiq_weights=None, musiq_weights=None,
                           with_qalign=True))
