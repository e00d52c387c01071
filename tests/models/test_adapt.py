"""Self-supervised adaptation (models/adapt.py): the published loss, the teacher, the k-frame outputs, resume.

The loss and settings are those of ``shared/fixtures/official/networks/README.md`` section 4.
"""

from __future__ import annotations

import math

import pytest
import torch

from models import MODELS
from models.adapt import (
    ADAPT_TRAIN,
    TeacherEMA,
    adapt,
    adapt_config,
    adaptable_models,
    adaptation_loss,
    check_adaptable,
    prefix_frames,
)
from models.adapt_data import UnlabelledBracket, UnlabelledPatches, fixed_ratio_factors
from models.runner import load_training_state
from models.train_config import learning_rate
from simulator.core.errors import ConfigError, DataError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _mu(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + 5000 * x) / math.log(1 + 5000)


def test_adaptation_loss_equals_a_hand_computation_with_the_published_clamps():
    torch.manual_seed(0)
    model = MODELS.spec("tmrnet").build_tiny()
    for p in model.parameters():  # zero-initialised gates would make every frame count alike
        if p.abs().sum() == 0:
            torch.nn.init.constant_(p, 0.3)
    raws = torch.rand(2, 5, 4, 16, 16)
    full, prefix = model(raws), model(raws[:, :2])
    teacher = full.detach() * 1.7 - 3.0  # values below 0 and above 16, so both clamps act
    total, teacher_term, self_term = adaptation_loss(full, prefix, teacher)
    # by hand, as written in the published model: mu(clamp(y / 16, min=0)) against mu(clamp(t / 16, 0, 1))
    hand_teacher = (_mu((full / 16).clamp(min=0)) - _mu((teacher / 16).clamp(0, 1))).abs().mean()
    hand_self = (_mu((prefix / 16).clamp(min=0)) - _mu((full.detach() / 16).clamp(0, 1))).abs().mean()
    assert torch.allclose(teacher_term, hand_teacher, rtol=1e-6)
    assert torch.allclose(self_term, hand_self, rtol=1e-6)
    assert torch.allclose(total, hand_teacher + hand_self, rtol=1e-6)
    total.backward()  # the self term's target is detached: no gradient flows through it
    assert all(p.grad is not None for p in model.parameters())


def test_self_term_target_carries_no_gradient():
    full = torch.full((1, 4, 2, 2), 8.0, requires_grad=True)
    prefix = torch.full((1, 4, 2, 2), 4.0, requires_grad=True)
    _, _, self_term = adaptation_loss(full, prefix, full.detach())
    self_term.backward()
    assert full.grad is None and prefix.grad.abs().sum() > 0


def test_teacher_follows_the_student_with_decay_0999_over_parameters_only():
    student = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    teacher = TeacherEMA(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)), 0.999)
    before = [p.clone() for p in teacher.module.parameters()]
    buffers = [b.clone() for b in teacher.module.buffers()]
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
        student[1].running_mean.fill_(5.0)
    teacher.update(student)  # no warm-up ramp: the very first update already uses 0.999
    for old, new, live in zip(before, teacher.module.parameters(), student.parameters()):
        assert torch.allclose(new, 0.999 * old + 0.001 * live, atol=1e-7)
    assert all(torch.equal(a, b) for a, b in zip(buffers, teacher.module.buffers()))  # buffers untouched
    assert teacher.updates == 1 and not any(p.requires_grad for p in teacher.module.parameters())


def test_k_frame_outputs_are_the_recurrence_stopped_after_k_plus_one_frames():
    torch.manual_seed(1)
    model = MODELS.spec("tmrnet").build_tiny().eval()
    for p in model.parameters():
        if p.abs().sum() == 0:
            torch.nn.init.constant_(p, 0.3)
    raws = torch.rand(1, 5, 4, 16, 16)
    changed = raws.clone()
    changed[:, 3:] = torch.rand(1, 2, 4, 16, 16)  # later frames must not reach the 3-frame output
    with torch.no_grad():
        outs = [model(raws[:, :t]) for t in (1, 2, 3)]
        assert torch.equal(model(changed[:, :3]), outs[2])
        assert not torch.allclose(model(changed), model(raws))
    assert all(o.shape == (1, 4, 16, 16) for o in outs)
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])


def test_k_is_drawn_from_0_1_2_by_seed_and_step():
    draws = [prefix_frames(0, step) for step in range(300)]
    assert set(draws) == {1, 2, 3} and all(abs(draws.count(f) - 100) < 35 for f in (1, 2, 3))
    assert draws == [prefix_frames(0, step) for step in range(300)]
    assert {prefix_frames(0, step, minimum=2) for step in range(60)} == {2, 3}  # burst baselines need two frames


def test_defaults_are_the_published_adaptation_settings():
    config = adapt_config("tmrnet")
    t = config.train
    assert (t.lr, t.lr_min, t.iters, t.batch_size, t.patch, t.ema_decay) == (7.5e-5, 1e-6, 5000, 8, 128, 0.999)
    assert adapt_config("tmrnet_plus").train.patch == 64
    # CosineAnnealingLR(T_max=10, eta_min=1e-6) stepped once per 500-iteration epoch, no warm-up
    for epoch in range(10):
        expected = 1e-6 + 0.5 * (7.5e-5 - 1e-6) * (1 + math.cos(math.pi * epoch / 10))
        assert learning_rate(500 * epoch, t) == pytest.approx(expected, rel=1e-12)
        assert learning_rate(500 * epoch + 499, t) == pytest.approx(expected, rel=1e-12)
    assert ADAPT_TRAIN.warmup_epochs == 0


def test_models_without_fewer_frames_are_refused_naming_those_that_can():
    assert "tmrnet" in adaptable_models() and "bipnet" not in adaptable_models()
    assert "merge" not in adaptable_models()  # no parameters to adapt
    with pytest.raises(ConfigError, match=r"--model bipnet: cannot give an output from fewer frames.*tmrnet"):
        check_adaptable("bipnet")


def test_measured_exposures_become_fixed_ratio_gains():
    factors = fixed_ratio_factors(torch.tensor([1.0, 4.0, 16.0, 64.0, 256.0]), 4.0, 2)
    assert torch.equal(factors, torch.ones(5))
    measured = torch.tensor([1.0, 3.0, 12.0, 40.0, 200.0])
    factors = fixed_ratio_factors(measured, 4.0, 2)
    gains_fixed = torch.tensor([16.0, 4.0, 1.0, 0.25, 0.0625])
    assert torch.allclose(factors * gains_fixed, 12.0 / measured)  # = the measured normalisation e[2] / e[t]


def _patches(seed: int = 0) -> UnlabelledPatches:
    g = torch.Generator().manual_seed(seed)
    brackets = [UnlabelledBracket(f"b{i}", torch.rand(5, 4, 24, 24, generator=g),
                                  torch.tensor([1.0, 4.0, 16.0, 64.0, 256.0])) for i in range(3)]
    return UnlabelledPatches(brackets, 5, 16, 4.0, 2, seed=0)


def test_patches_refuse_a_bracket_smaller_than_the_patch():
    small = UnlabelledBracket("tiny.dng", torch.rand(5, 4, 8, 8))
    with pytest.raises(DataError, match=r"tiny.dng: 8x8 packed pixels, smaller than the patch 16"):
        UnlabelledPatches([small], 5, 16, 4.0, 2)


def _config(tmp_path, iters: int):
    return adapt_config("tmrnet", [*MODELS.spec("tmrnet").tiny_overrides(), f"data.root={tmp_path}",
                                   "train.patch=16", "train.batch_size=2", f"train.iters={iters}",
                                   "train.progress=false", "train.log_every=1", "data.workers=0",
                                   "train.lr=1e-3", "train.save_every=1000"])


def _initial() -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return MODELS.spec("tmrnet").build_tiny().state_dict()


def test_adapt_resume_is_bit_exact_and_teacher_starts_from_the_checkpoint(tmp_path):
    initial = _initial()
    whole = adapt(_config(tmp_path, 4), tmp_path / "whole", _patches(), initial)
    adapt(_config(tmp_path, 4), tmp_path / "cut", _patches(), initial, stop_at=2)
    first = load_training_state(tmp_path / "cut" / "checkpoints" / "last.pt")
    # the student moved; the teacher took exactly two 0.999-updates from the same starting weights
    name = "conv_last.weight"
    assert not torch.equal(first["params"][name], initial[name])
    assert first["ema_updates"] == 2
    drift = (first["params_ema"][name] - initial[name]).abs().max()
    assert 0 < drift < (first["params"][name] - initial[name]).abs().max()
    resumed = adapt(_config(tmp_path, 4), tmp_path / "cut", _patches(), None, resume=True)
    assert whole.step == resumed.step == 4
    a = load_training_state(tmp_path / "whole" / "checkpoints" / "last.pt")
    b = load_training_state(tmp_path / "cut" / "checkpoints" / "last.pt")
    for part in ("params", "params_ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    moments = [(x["exp_avg"], y["exp_avg"]) for x, y in zip(a["optimizer"]["state"].values(),
                                                             b["optimizer"]["state"].values())]
    assert all(torch.equal(x, y) for x, y in moments)
    log = (tmp_path / "cut" / "log.csv").read_text().splitlines()
    assert sum(line.startswith("loss_self,") for line in log) == 4  # rolled back and logged again, once each


def test_adapt_without_weights_is_refused(tmp_path):
    with pytest.raises(DataError, match="synthetic checkpoint"):
        adapt(_config(tmp_path, 2), tmp_path / "run", _patches(), None)


@pytest.mark.parametrize("name", [n for n in adaptable_models() if n != "tmrnet"])
def test_every_adaptable_model_takes_adaptation_steps(name, tmp_path):
    spec = MODELS.spec(name)
    torch.manual_seed(3)
    initial = spec.build_tiny().state_dict()
    config = adapt_config(name, [*spec.tiny_overrides(), f"data.root={tmp_path}", "train.patch=16",
                                 "train.batch_size=1", "train.iters=2", "train.progress=false", "data.workers=0"])
    patches = UnlabelledPatches([UnlabelledBracket("b", torch.rand(5, 4, 16, 16))], 5, 16,
                                4.0, 2, augment=False)
    result = adapt(config, tmp_path / "run", patches, initial)
    assert result.step == 2 and math.isfinite(result.loss)
