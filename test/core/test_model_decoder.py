import math

import pytest
import torch
import torch.nn.functional as F

from samosaic3d_core.model.decoder import (
    AFFINITY_EPS,
    Attention,
    Decoder,
    DecoderConfig,
    DecoderLayer,
    affinity_bias,
    context_indices,
    instance_queries,
)
from samosaic3d_core.model.heads import HeadsConfig, InstanceHeads, denormalize_boxes, frame_box, normalize_boxes
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)


def _manual_attention(attn: Attention, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    h = attn.num_heads
    q, k, v = (p(x).unflatten(1, (h, -1)).transpose(0, 1) for p in (attn.q, attn.k, attn.v))
    logits = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
    if bias is not None:
        logits = logits + bias
    return attn.out((logits.softmax(dim=-1) @ v).transpose(0, 1).flatten(1))


def test_beta_zero_gives_plain_attention_exactly():
    torch.manual_seed(0)
    attn = Attention(8, 2)
    x = torch.randn(5, 8)
    affinity = torch.rand(5, 5)
    bias = affinity_bias(affinity, torch.zeros(2))
    assert (bias == 0).all()  # 0 * log(W + eps) is exactly 0, even where W = 0
    plain = _manual_attention(attn, x, None)
    torch.testing.assert_close(attn(x, x, x, bias), plain)
    torch.testing.assert_close(attn(x, x, x, None), plain)


def test_biased_attention_matches_manual_softmax():
    torch.manual_seed(1)
    attn = Attention(8, 2)
    x = torch.randn(4, 8)
    w = torch.rand(4, 4)
    beta = torch.tensor([0.5, 2.0])
    bias = affinity_bias(w, beta)
    torch.testing.assert_close(bias[1], 2.0 * torch.log(w + AFFINITY_EPS))
    torch.testing.assert_close(attn(x, x, x, bias), _manual_attention(attn, x, bias))


def test_large_beta_blocks_attention_across_instances():
    torch.manual_seed(2)
    layer = DecoderLayer(DecoderConfig(num_heads=2, beta=10.0), 8)
    assign = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # fragments 0, 1 | 2
    affinity = assign @ assign.T
    queries, pos = torch.randn(3, 8), torch.zeros(3, 8)
    context = torch.randn(6, 8)
    out = layer(queries, pos, context, torch.zeros(6, 8), affinity)
    changed = queries.clone()
    changed[2] = torch.randn(8) * 3  # another instance's fragment changes ...
    out2 = layer(changed, pos, context, torch.zeros(6, 8), affinity)
    torch.testing.assert_close(out2[:2], out[:2])  # ... and nothing reaches fragments 0, 1
    assert not torch.allclose(out2[2], out[2])
    plain = DecoderLayer(DecoderConfig(num_heads=2, beta=0.0), 8)
    plain.load_state_dict({**layer.state_dict(), "beta": torch.zeros(2)})
    assert not torch.allclose(plain(changed, pos, context, torch.zeros(6, 8), affinity)[:2],
                              plain(queries, pos, context, torch.zeros(6, 8), affinity)[:2])


def test_instance_queries_sum_or_mean_of_assigned_fragments():
    assign = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    frag = torch.tensor([[2.0], [4.0], [8.0]])
    assert instance_queries(assign, frag, mass_normalize=False).tolist() == [[4.0], [10.0]]
    torch.testing.assert_close(instance_queries(assign, frag, mass_normalize=True), torch.tensor([[4.0 / 1.5], [10.0 / 1.5]]))


def test_context_indices_even_stride_and_bounds():
    assert context_indices(5, 10, torch.device("cpu")).tolist() == [0, 1, 2, 3, 4]
    idx = context_indices(1000, 4, torch.device("cpu"))
    assert idx.tolist() == [0, 333, 666, 999]


def test_decoder_shapes_and_layers():
    torch.manual_seed(3)
    dec = Decoder(DecoderConfig(num_layers=3, num_heads=2, max_context_points=16), 8)
    assign = torch.softmax(torch.randn(5, 3), dim=1)
    out = dec(torch.randn(5, 8), torch.randn(5, 3), torch.randn(100, 8), torch.randn(100, 3), assign, assign @ assign.T)
    assert len(out) == 3 and all(q.shape == (3, 8) for q in out)
    with pytest.raises(ValueError, match="divisible"):
        Attention(10, 4)


def test_frame_box_normalisation_round_trip():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [2.0, 1.0, 0.0]])
    origin, extent = frame_box(xyz)
    torch.testing.assert_close(extent, torch.tensor([2.0, 1.0, 0.05]))  # flat view: minimum extent
    torch.testing.assert_close(origin, torch.tensor([0.0, 0.0, -0.025]))
    lo, hi = torch.tensor([[0.5, 0.0, 0.0]]), torch.tensor([[1.5, 1.0, 0.0]])
    boxes = normalize_boxes(lo, hi, origin, extent)
    torch.testing.assert_close(boxes, torch.tensor([[0.5, 0.5, 0.5, 0.5, 1.0, 0.0]]))
    lo2, hi2 = denormalize_boxes(boxes, origin, extent)
    torch.testing.assert_close(lo2, lo)
    torch.testing.assert_close(hi2, hi)


def test_heads_shapes_and_ranges():
    torch.manual_seed(4)
    heads = InstanceHeads(HeadsConfig(), 8)
    pred = heads(torch.randn(3, 8), heads.point_mask_features(torch.randn(50, 8)))
    assert pred.mask_logits.shape == (3, 50) and pred.boxes.shape == (3, 6) and pred.objectness.shape == (3,)
    assert (pred.boxes >= 0).all() and (pred.boxes <= 1).all()
    empty = heads(torch.zeros(0, 8), heads.point_mask_features(torch.randn(50, 8)))
    assert empty.mask_logits.shape == (0, 50)


def test_sdpa_and_manual_attention_agree_for_cross_attention():
    torch.manual_seed(5)
    attn = Attention(8, 4)
    q, kv = torch.randn(3, 8), torch.randn(7, 8)
    h = 4
    qh, kh, vh = (p(t).unflatten(1, (h, -1)).transpose(0, 1) for p, t in ((attn.q, q), (attn.k, kv), (attn.v, kv)))
    ref = attn.out(F.softmax(qh @ kh.transpose(1, 2) / math.sqrt(2), dim=-1).matmul(vh).transpose(0, 1).flatten(1))
    torch.testing.assert_close(attn(q, kv, kv), ref)
