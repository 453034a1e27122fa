"""The autoencoders against their torch twins: outputs, every gradient, finite differences,
state dicts in both directions, and whole training runs in lockstep."""

import io

import numpy as np
import pytest
import torch
from helpers import adam_lockstep, assert_close, compare_autoencoder_with_twin, randomize
from hypothesis import given
from hypothesis import strategies as st

import npae
import reference
from npae.errors import NonFiniteError, ShapeError, StateDictError

CELLS = {"rnn": (npae.RNNAutoencoder, reference.RNNAutoencoder),
         "lstm": (npae.LSTMAutoencoder, reference.LSTMAutoencoder)}

# the tutorial's parameter names, in its registration order
TUTORIAL_KEYS = {
    cell: [f"encoder_{cell}.weight_ih_l0", f"encoder_{cell}.weight_hh_l0", f"encoder_{cell}.bias_ih_l0",
           f"encoder_{cell}.bias_hh_l0", "encoder_fc.weight", "encoder_fc.bias", "decoder_fc.weight",
           "decoder_fc.bias", f"decoder_{cell}.weight_ih_l0", f"decoder_{cell}.weight_hh_l0",
           f"decoder_{cell}.bias_ih_l0", f"decoder_{cell}.bias_hh_l0", "output_fc.weight", "output_fc.bias"]
    for cell in CELLS
}


@st.composite
def ae_case(draw, dtype=np.float64):
    return dict(cell=draw(st.sampled_from(["rnn", "lstm"])), B=draw(st.integers(1, 6)), T=draw(st.integers(1, 20)),
                D=draw(st.integers(1, 5)), H=draw(st.integers(1, 12)), L=draw(st.integers(1, 8)), dtype=dtype,
                seed=draw(st.integers(0, 2**32 - 1)))


def check_ae(case):
    rng = np.random.default_rng(case["seed"])
    model = CELLS[case["cell"]][0](case["D"], case["H"], case["L"], dtype=case["dtype"], rng=rng)
    if case["dtype"] == np.float64:
        randomize(model, rng)  # float32 smoke tests keep torch's initial scale (see helpers.TOL)
    x = rng.standard_normal((case["B"], case["T"], case["D"])).astype(case["dtype"])
    w = rng.standard_normal(x.shape).astype(case["dtype"])
    compare_autoencoder_with_twin(model, x, w, case["T"], "autoencoder")


@given(ae_case())
def test_autoencoders_equal_torch_float64(case):
    check_ae(case)


@given(ae_case(dtype=np.float32))
def test_autoencoders_equal_torch_float32(case):
    check_ae(case)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_autoencoder_finite_differences(cell):
    model = CELLS[cell][0](2, 3, 2, dtype=np.float64, seed=3)
    x = np.random.default_rng(4).standard_normal((2, 4, 2))
    report = npae.gradcheck_module(model, x)
    assert report.ok, str(report)
    assert len(report.checks) == 1 + len(TUTORIAL_KEYS[cell])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_names_are_the_tutorials(cell):
    model = CELLS[cell][0]()
    assert list(model.state_dict()) == TUTORIAL_KEYS[cell]
    assert [n for n, _ in model.named_parameters()] == TUTORIAL_KEYS[cell]
    assert list(CELLS[cell][1]().state_dict()) == TUTORIAL_KEYS[cell]
    # the tutorial's default model has this many parameters (its printed count)
    assert model.num_parameters() == sum(p.numel() for p in CELLS[cell][1]().parameters())


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_saved_torch_state_dict_loads_unchanged(cell):
    """torch.save → torch.load → npae.load_state_dict, no renaming; and back."""
    twin = CELLS[cell][1](1, 32, 16, seed=0)
    buf = io.BytesIO()
    torch.save(twin.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)
    model = CELLS[cell][0](1, 32, 16)
    model.load_state_dict(state)
    for k, v in state.items():
        np.testing.assert_array_equal(model.state_dict()[k], v.numpy())
    back = reference.to_torch(model)
    for k, v in back.state_dict().items():
        assert torch.equal(v, state[k])
    again = reference.to_npae(twin)
    assert type(again) is CELLS[cell][0] and again.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((3, 10, 1)).astype(np.float32)
    with torch.no_grad():
        assert_close(again(x), twin(torch.tensor(x)), 1e-5, "converted model")


def test_state_dict_is_a_copy():
    model = npae.LSTMAutoencoder(seed=0)
    sd = model.state_dict()
    sd["encoder_fc.weight"][...] = 0
    assert model.encoder_fc.weight.data.any()


def test_load_state_dict_errors_name_the_key():
    model = npae.RNNAutoencoder(1, 4, 2)
    good = model.state_dict()
    missing = dict(good)
    del missing["decoder_fc.bias"]
    with pytest.raises(StateDictError, match="missing keys: decoder_fc.bias"):
        model.load_state_dict(missing)
    with pytest.raises(StateDictError, match="unexpected keys: extra"):
        model.load_state_dict({**good, "extra": np.zeros(1)})
    with pytest.raises(StateDictError, match=r"'encoder_fc.weight' has shape \(3, 3\)"):
        model.load_state_dict({**good, "encoder_fc.weight": np.zeros((3, 3))})
    with pytest.raises(StateDictError, match="'output_fc.bias' holds <U1"):
        model.load_state_dict({**good, "output_fc.bias": np.array(["a"])})
    with pytest.raises(StateDictError, match="mapping"):
        model.load_state_dict([1, 2])
    before = model.state_dict()
    with pytest.raises(StateDictError):  # a bad entry late in the dict leaves the model untouched
        model.load_state_dict({**{k: v + 1 for k, v in good.items()}, "output_fc.bias": np.zeros(7)})
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_casts_other_float_precision():
    model = npae.LSTMAutoencoder(1, 4, 2)  # float32
    sd64 = {k: v.astype(np.float64) + 0.1 for k, v in model.state_dict().items()}
    model.load_state_dict(sd64)
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(model.state_dict()["encoder_fc.bias"], sd64["encoder_fc.bias"], rtol=1e-6)


def test_autoencoder_bad_input():
    model = npae.LSTMAutoencoder(2, 4, 2)
    with pytest.raises(ShapeError, match=r"\(B, T, D\)"):
        model(np.zeros((3, 5)))
    with pytest.raises(ShapeError, match="feature size D 1"):
        model(np.zeros((3, 5, 1)))
    with pytest.raises(NonFiniteError):
        model(np.full((3, 5, 2), np.nan))
    with pytest.raises(ShapeError, match="empty"):
        model(np.zeros((0, 5, 2)))
    model(np.zeros((3, 5, 2)))
    with pytest.raises(ShapeError, match="grad_output"):
        model.backward(np.zeros((3, 5, 1)))


def test_reconstruct_equals_forward_in_batches():
    model = npae.LSTMAutoencoder(2, 5, 3, dtype=np.float64, seed=1)
    x = np.random.default_rng(0).standard_normal((37, 6, 2))
    np.testing.assert_allclose(model.reconstruct(x, batch_size=8), model(x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_training_in_lockstep_with_torch(cell):
    """20 Adam steps on the same batches from the same weights end within 1e-9 (float64)."""
    rng = np.random.default_rng(7)
    model = CELLS[cell][0](2, 6, 3, dtype=np.float64, seed=11)
    twin = reference.to_torch(model)
    adam_lockstep(model, twin, rng.standard_normal((20, 4, 12, 2)), lr=1e-2)
    tstate = twin.state_dict()
    for k, v in model.state_dict().items():
        assert np.max(np.abs(v - tstate[k].numpy())) <= 1e-9, k


def test_init_bounds_and_moments():
    """torch's distributions: U(-1/sqrt(H), 1/sqrt(H)) (recurrent), U(-1/sqrt(fan_in), ...) (Linear)."""
    H, L = 64, 16
    model = npae.LSTMAutoencoder(1, H, L, dtype=np.float64, seed=0)
    for name, p in model.named_parameters():
        fan = H if "lstm" in name else p.data.shape[-1] if p.data.ndim == 2 else None
        if "fc" in name:
            fan = {"encoder_fc": H, "decoder_fc": L, "output_fc": H}[name.split(".")[0]]
        k = 1 / np.sqrt(fan)
        v = p.data.ravel()
        assert np.all(np.abs(v) <= k), name
        if v.size >= 1000:  # moments of U(-k, k): mean 0, variance k²/3
            assert abs(v.mean()) < 4 * k / np.sqrt(3 * v.size), name
            assert abs(v.var() / (k * k / 3) - 1) < 0.1, name
    a = npae.LSTMAutoencoder(seed=5).state_dict()
    b = npae.LSTMAutoencoder(seed=5).state_dict()
    c = npae.LSTMAutoencoder(seed=6).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["encoder_fc.weight"], c["encoder_fc.weight"])
