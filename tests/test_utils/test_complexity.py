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
