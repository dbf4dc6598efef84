"""The distillation loss of docs/method.md §7 against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from folk.distill.loss import distillation_loss
from folk.errors import FolkInputError

# Two proposals in 2-D. Student f1 = (1, 0), f2 = (0, 1); teacher targets ē1 = (1, 0),
# ē2 = (0.6, 0.8); text t_0 = (1, 0), t_1 = (0, 1); labels c*_1 = 0, c*_2 = 1.
F_ = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
E_ = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
T_ = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
Y_ = torch.tensor([0, 1])


def test_loss_matches_hand_computation():
    tau_c, tau_l = 0.5, 0.25
    # cos(f_i, ē_j): row 1 = (1, 0.6), row 2 = (0, 0.8); divided by τ_c = 0.5.
    con = -0.5 * (math.log(math.exp(2.0) / (math.exp(2.0) + math.exp(1.2)))
                  + math.log(math.exp(1.6) / (math.exp(0.0) + math.exp(1.6))))
    # cos(f_i, t_c): row 1 = (1, 0), row 2 = (0, 1); divided by τ_l = 0.25 -> logits 4 and 0.
    ce = -math.log(math.exp(4.0) / (math.exp(4.0) + 1.0))  # the same for both rows
    terms = distillation_loss(F_, E_, Y_, T_, lambda_con=0.2, lambda_ce=0.8, tau_c=tau_c,
                              tau_l=tau_l)
    assert float(terms.contrastive) == pytest.approx(con, rel=1e-9)
    assert float(terms.label) == pytest.approx(ce, rel=1e-6)
    assert float(terms.total) == pytest.approx(0.2 * con + 0.8 * ce, rel=1e-6)
    # = (log(1 + e^-0.8) + log(1 + e^-1.6)) / 2 and log(1 + e^-4)
    assert con == pytest.approx(0.27750, abs=1e-5) and ce == pytest.approx(0.018150, abs=1e-6)


def test_defaults_are_paper_weights_and_our_temperatures():
    terms = distillation_loss(F_, E_, Y_, T_)
    ref = distillation_loss(F_, E_, Y_, T_, lambda_con=0.2, lambda_ce=0.8, tau_c=0.07,
                            tau_l=0.01)
    assert float(terms.total) == pytest.approx(float(ref.total))


def test_proposals_without_teacher_view_are_left_out_entirely():
    base = distillation_loss(F_, E_, Y_, T_, tau_c=0.5, tau_l=0.25)
    # A third proposal with label -1 and a target equal to f1 would be a strong negative for
    # proposal 1 if it took part.
    f = torch.cat([F_, torch.tensor([[0.7071, 0.7071]], dtype=torch.float64)])
    e = torch.cat([E_, torch.tensor([[1.0, 0.0]], dtype=torch.float64)])
    y = torch.tensor([0, 1, -1])
    terms = distillation_loss(f, e, y, T_, tau_c=0.5, tau_l=0.25)
    assert float(terms.total) == pytest.approx(float(base.total), rel=1e-6)
    assert terms.count == 2


def test_inputs_are_normalised_so_scale_does_not_matter():
    a = distillation_loss(F_ * 3.0, E_ * 0.5, Y_, T_ * 7.0)
    b = distillation_loss(F_, E_, Y_, T_)
    assert float(a.total) == pytest.approx(float(b.total), rel=1e-6)


def test_batch_without_valid_proposal_gives_zero_loss_that_backpropagates():
    f = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    terms = distillation_loss(f, torch.randn(3, 2, dtype=torch.float64),
                              torch.tensor([-1, -1, -1]), T_)
    assert float(terms.total.detach()) == 0.0 and terms.count == 0
    terms.total.backward()
    assert f.grad is not None and torch.all(f.grad == 0)


def test_gradient_pulls_student_towards_its_target():
    f = torch.tensor([[0.6, 0.8], [0.8, 0.6]], dtype=torch.float64, requires_grad=True)
    terms = distillation_loss(f, E_, Y_, T_)
    terms.total.backward()
    step = f.detach() - 0.01 * f.grad
    after = distillation_loss(step, E_, Y_, T_)
    assert float(after.total) < float(terms.total.detach())


def test_bad_shapes_and_labels_are_rejected():
    with pytest.raises(FolkInputError, match="must both be"):
        distillation_loss(F_, E_[:1], Y_, T_)
    with pytest.raises(FolkInputError, match="only 2 classes"):
        distillation_loss(F_, E_, torch.tensor([0, 2]), T_)
    with pytest.raises(FolkInputError, match="text embeddings must be"):
        distillation_loss(F_, E_, Y_, torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(FolkInputError, match="temperatures"):
        distillation_loss(F_, E_, Y_, T_, tau_l=0.0)
