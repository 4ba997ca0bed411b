import pytest
import torch

from samosaic3d_core.model.assembly import (
    Assembly,
    AssemblyConfig,
    global_descriptor,
    hard_assignment,
    soft_assignment,
)
from test.core.f2i_fixtures import one_torch_thread  # noqa: F401  (autouse fixture)


def _assembly(**kw) -> Assembly:
    torch.manual_seed(0)
    return Assembly(AssemblyConfig(max_instances=6, hidden=16, **kw), channels=8)


def test_soft_assignment_rows_sum_to_one_and_inactive_columns_are_exactly_zero():
    torch.manual_seed(0)
    feats, centers = torch.randn(7, 8), torch.randn(6, 8)
    assign = soft_assignment(feats, centers, num_active=3, tau=0.5)
    assert assign.shape == (7, 6)
    torch.testing.assert_close(assign.sum(dim=1), torch.ones(7))
    assert (assign[:, 3:] == 0).all()
    assert (assign[:, :3] > 0).all()


def test_soft_assignment_matches_the_formula():
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0], [9.0, 9.0]])
    assign = soft_assignment(feats, centers, num_active=2, tau=2.0)
    # fragment 1: distances^2 1 and 1 -> equal split; fragment 0: 0 and 4 -> softmax([0, -2])
    torch.testing.assert_close(assign[1], torch.tensor([0.5, 0.5, 0.0]))
    e = torch.exp(torch.tensor(-2.0))
    torch.testing.assert_close(assign[0], torch.tensor([1 / (1 + e), e / (1 + e), 0.0]))


def test_affinity_is_symmetric_in_unit_range_with_diagonal_at_most_one():
    asm = _assembly()
    grouping = asm(torch.randn(9, 8), num_active=4)
    w = grouping.affinity
    assert w.shape == (9, 9)
    torch.testing.assert_close(w, w.T)
    assert (w >= 0).all() and (w <= 1 + 1e-6).all()
    assert (w.diagonal() <= 1 + 1e-6).all()
    torch.testing.assert_close(w, grouping.assign @ grouping.assign.T)
    assert grouping.active_assign.shape == (9, 4)


def test_count_head_decides_without_teacher_forcing_and_is_clamped():
    asm = _assembly()
    feats = torch.randn(3, 8)
    g = asm(feats)
    expected = min(int(g.count_logits.argmax()) + 1, 3)
    assert g.num_active == expected
    assert asm(feats, num_active=5).num_active == 3  # never more instances than fragments
    assert asm(feats, num_active=0).num_active == 1
    assert asm(torch.randn(20, 8), num_active=50).num_active == 6  # nor more than N_max


def test_zero_and_one_fragment():
    asm = _assembly()
    empty = asm(torch.zeros(0, 8))
    assert empty.num_active == 0 and empty.assign.shape == (0, 6) and empty.affinity.shape == (0, 0)
    assert torch.isfinite(empty.count_logits).all()
    one = asm(torch.randn(1, 8))
    assert one.num_active == 1
    assert one.assign[0].tolist() == [1.0, 0, 0, 0, 0, 0]
    assert one.affinity.tolist() == [[1.0]]


def test_global_descriptor_is_max_then_mean():
    feats = torch.tensor([[1.0, 4.0], [3.0, 0.0]])
    assert global_descriptor(feats).tolist() == [3.0, 4.0, 2.0, 2.0]
    assert global_descriptor(torch.zeros(0, 2)).tolist() == [0.0] * 4


def test_hard_assignment_is_one_hot_of_nearest_active_center_without_gradient():
    feats = torch.tensor([[0.0, 0.0], [5.0, 5.0], [4.0, 4.0]], requires_grad=True)
    centers = torch.tensor([[0.1, 0.0], [4.0, 4.1], [5.0, 5.0]])
    assign = hard_assignment(feats, centers, num_active=2)  # center 2 is inactive
    assert assign.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert not assign.requires_grad
    asm = _assembly(grouping="hard")
    g = asm(torch.randn(5, 8), num_active=3)
    assert ((g.assign == 0) | (g.assign == 1)).all() and (g.assign.sum(dim=1) == 1).all()


def test_soft_assignment_passes_gradient_to_features_and_centers():
    asm = _assembly()
    feats = torch.randn(5, 8, requires_grad=True)
    g = asm(feats, num_active=3)
    (g.affinity * torch.randn(5, 5)).sum().backward()
    assert feats.grad.abs().sum() > 0
    assert asm.center_head[0].weight.grad.abs().sum() > 0
    assert asm.log_tau.grad is not None and torch.isfinite(asm.log_tau.grad).all() and asm.log_tau.grad.abs().sum() > 0


def test_config_validation():
    with pytest.raises(ValueError, match="grouping"):
        AssemblyConfig(grouping="kmeans")


def test_spare_centers_are_activated_beyond_the_count():
    torch.manual_seed(0)
    assembly = Assembly(AssemblyConfig(max_instances=8, spare_centers=2), 16)
    feats = torch.randn(6, 16)
    assert assembly(feats, num_active=3).num_active == 5
    assert assembly(feats, num_active=5).num_active == 6  # never more than the fragments
    assert assembly(feats[:0]).num_active == 0


def test_refined_centers_separate_two_clear_clusters():
    """Soft k-means steps move the centres onto the frame's fragments: two tight clusters far
    apart end up with two centres whatever the initial bank says, and A stays differentiable."""
    torch.manual_seed(0)
    a, b = torch.randn(16), torch.randn(16)
    feats = torch.stack([a + 0.01 * torch.randn(16) for _ in range(4)] + [b + 0.01 * torch.randn(16) for _ in range(4)])
    feats.requires_grad_(True)
    config = AssemblyConfig(max_instances=4, tau=0.05, learn_tau=False)
    plain = Assembly(config, 16)
    refined = Assembly(AssemblyConfig(max_instances=4, tau=0.05, learn_tau=False, refine_iters=3), 16)
    refined.load_state_dict(plain.state_dict())
    with torch.no_grad():  # a bank whose two centres both lie near cluster a
        bias = refined.center_head[-1].bias.view(4, 16)
        bias.copy_((a + 0.3 * torch.randn(4, 16)) * 10)
        refined.center_head[-1].weight.zero_()
    grouping = refined(feats, num_active=2)
    same = grouping.affinity[:4, :4].mean(), grouping.affinity[4:, 4:].mean()
    across = grouping.affinity[:4, 4:].mean()
    assert min(float(v.detach()) for v in same) > 0.9 and float(across.detach()) < 0.1, grouping.affinity
    (grouping.affinity[:4, :4].sum() - grouping.affinity[:4, 4:].sum()).backward()  # (sum of W is flat in A)
    assert feats.grad is not None and torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0
