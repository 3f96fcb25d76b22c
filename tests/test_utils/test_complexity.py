import torch
from torch import nn

from dunseg.utils.complexity import count_macs


class _SelfAttention(nn.Module):

    def __init__(self, dim, heads, bias=True):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, bias=bias)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


def test_multihead_attention_counts_its_projections():
    tokens, batch, dim = 5, 2, 16
    x = torch.rand(tokens, batch, dim)
    macs, params = count_macs(_SelfAttention(dim, 2), x,
                              forward=lambda m, t: m(t))
    per_token = 3 * dim * (dim + 1) + dim * (dim + 1)
    assert macs == tokens * batch * per_token
    assert params == 4 * dim * dim + 4 * dim
    macs, _ = count_macs(_SelfAttention(dim, 2, bias=False), x,
                         forward=lambda m, t: m(t))
    assert macs == tokens * batch * 4 * dim * dim


def test_cross_attention_counts_key_value_tokens():
    attn = nn.MultiheadAttention(8, 1)
    query, memory = torch.rand(3, 1, 8), torch.rand(7, 1, 8)
    macs, _ = count_macs(attn, query,
                         forward=lambda m, q: m(q, memory, memory))
    assert macs == (3 + 2 * 7) * 8 * 9 + 3 * 8 * 9


class _CachingModel(nn.Module):
    """Computes a per-model constant once, like a prior's prompt features."""

    def __init__(self):
        super().__init__()
        self.constant = nn.Linear(4, 4)
        self.per_image = nn.Linear(4, 4)
        self.cache = None

    def forward(self, x):
        if self.cache is None:
            self.cache = self.constant(torch.ones(100, 4))
        return self.per_image(x) + self.cache[:1]


def test_cached_work_is_not_counted_per_image():
    x = torch.rand(1, 4)
    macs, _ = count_macs(_CachingModel(), x, forward=lambda m, t: m(t))
    assert macs == 4 * 5
    from dunseg.utils.complexity import module_complexity
    stats = module_complexity(_CachingModel(), x, forward=lambda m, t: m(t),
                              fill_caches=False)
    assert stats[''].macs == 4 * 5 + 100 * 4 * 5
