"""Brunner et al. (2018)'s multi-task seq2seq autoencoder: the summed loss against per-decoder
sentence likelihoods computed by hand, a left-out task (no parameters, no loss term), each decoder
started from its own FC of the representation (a numpy LSTM), the clustering path on the syntax
prototypes (a hand-counted case, the best run's confusion), the perplexities against a direct sum,
and the method through the loop, a resume and `disentax evaluate`."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from disentax import cli, methods
from disentax.data.registry import get_dataset
from disentax.data.text import syntax_prototypes
from disentax.errors import ConfigError
from disentax.methods import multitask_seq2seq as ms
from disentax.objectives.text import BOS
from disentax.train.logging import read_json

from helpers import configure, straight_and_resumed, tiny_config


@pytest.fixture(scope="module")
def data():
    return get_dataset("multitask_text")


def _tiny(data, tasks=("rep", "de", "pos"), hidden=5, dim=4, embed=3):
    return ms.MultitaskSeq2Seq(data.chars.size, data.tags.size, tasks, dim, hidden, embed)


def _batch(data, n=3, start=0):
    return {k: jnp.asarray(v[start:start + n]) for k, v in data.split_arrays("test").items()}


def _init(model, batch, seed=0):
    return model.init(jax.random.PRNGKey(seed), batch)["params"]


def _nll_by_hand(logits, targets, lengths) -> float:
    """(1/B) Σ_b Σ_{t < len_b} −log softmax(logits_bt)[y_bt], float64 loops."""
    logits, targets, lengths = (np.asarray(a, np.float64) for a in (logits, targets, lengths))
    total = 0.0
    for b in range(logits.shape[0]):
        for t in range(int(lengths[b])):
            row = logits[b, t]
            m = row.max()
            total += m + np.log(np.exp(row - m).sum()) - row[int(targets[b, t])]
    return total / logits.shape[0]


# ----------------------------------------------------------------------------- the loss


def test_summed_loss_is_the_sum_of_each_decoders_sentence_nll_computed_separately(data):
    model, batch = _tiny(data), _batch(data)
    params = _init(model, batch)
    r, logits = model.apply({"params": params}, batch)
    loss, aux = ms.multitask_loss(logits, batch)
    # Each decoder on its own: the representation, then that decoder alone, then the NLL by loops.
    r_alone = ms.representation(model, params, batch["chars"])  # lengths from the first EOS
    np.testing.assert_array_equal(np.asarray(r_alone), np.asarray(r))
    want = 0.0
    for task in ("rep", "de", "pos"):
        key, length_key = ms.TARGETS[task]
        lg = model.apply({"params": params}, task, r_alone, batch[key], method=ms.MultitaskSeq2Seq.decode)
        term = _nll_by_hand(lg, batch[key], batch[length_key])
        np.testing.assert_allclose(float(aux[f"{task}_nll"]), term, rtol=1e-5)
        want += term
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    assert set(aux) == {f"{t}_{m}" for t in ("rep", "de", "pos") for m in ("nll", "perplexity", "accuracy")}


def test_loss_with_extreme_logits_matches_the_hand_sum():
    rng = np.random.default_rng(0)
    batch = {"chars": rng.integers(0, 6, (2, 5)), "char_length": np.array([5, 1]),
             "pos": rng.integers(0, 4, (2, 3)), "pos_length": np.array([2, 3])}
    logits = {"rep": rng.normal(size=(2, 5, 6)) * 1e4, "pos": rng.normal(size=(2, 3, 4))}
    logits["rep"][0, 0, 0] = -1e30  # a near -inf logit, read or not
    loss, aux = ms.multitask_loss({k: jnp.asarray(v, jnp.float32) for k, v in logits.items()},
                                  {k: jnp.asarray(v) for k, v in batch.items()})
    rep = _nll_by_hand(logits["rep"], batch["chars"], batch["char_length"])
    pos = _nll_by_hand(logits["pos"], batch["pos"], batch["pos_length"])
    assert np.isfinite(float(loss))
    np.testing.assert_allclose(float(aux["rep_nll"]), rep, rtol=1e-5)
    np.testing.assert_allclose(float(loss), rep + pos, rtol=1e-5)


def test_a_task_left_out_has_no_parameters_and_no_loss_term(data):
    batch = _batch(data)
    full = _tiny(data, ("rep", "de", "pos"))
    params = _init(full, batch)
    assert set(params) == {"encoder", "decoders_rep", "decoders_de", "decoders_pos"}
    two = _tiny(data, ("rep", "de"))
    assert set(_init(two, batch)) == {"encoder", "decoders_rep", "decoders_de"}
    # The reduced model on the full model's shared parameters: exactly the full model's terms for
    # its own tasks, nothing else; its gradient has no entry for the missing decoder.
    shared = {k: v for k, v in params.items() if k != "decoders_pos"}
    _, full_aux = ms.multitask_loss(full.apply({"params": params}, batch)[1], batch)
    loss, aux = ms.multitask_loss(two.apply({"params": shared}, batch)[1], batch)
    assert not any(k.startswith("pos") for k in aux)
    np.testing.assert_allclose(float(loss), float(full_aux["rep_nll"] + full_aux["de_nll"]), rtol=1e-6)
    grads = jax.grad(lambda p: ms.multitask_loss(two.apply({"params": p}, batch)[1], batch)[0])(shared)
    assert set(grads) == {"encoder", "decoders_rep", "decoders_de"}
    # The POS term's gradient reaches the encoder and the POS decoder, not the other decoders.
    g_pos = jax.grad(lambda p: ms.multitask_loss(full.apply({"params": p}, batch)[1], batch)[1]["pos_nll"])(params)
    assert all(not np.any(np.asarray(x)) for x in jax.tree.leaves(g_pos["decoders_rep"]))
    assert any(np.any(np.asarray(x)) for x in jax.tree.leaves(g_pos["encoder"]))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _decoder_by_hand(p, r, inputs):
    """A numpy LSTM decoder: (c0, h0) = (W_c r + b_c, tanh(W_h r + b_h)) from its own FC, then
    Flax's LSTM gates on the embedded previous symbol only; logits = W_o h + b_o."""
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    hidden = p["rnn_cell"]["hi"]["kernel"].shape[0]
    proj = f64(r) @ f64(p["initial"]["kernel"]) + f64(p["initial"]["bias"])
    c, h = proj[:, :hidden], np.tanh(proj[:, hidden:])
    cell, out = p["rnn_cell"], []
    for t in range(inputs.shape[1]):
        x = f64(p["embedding"])[np.asarray(inputs[:, t])]
        gate = {g: x @ f64(cell[f"i{g}"]["kernel"]) + h @ f64(cell[f"h{g}"]["kernel"]) + f64(cell[f"h{g}"]["bias"])
                for g in "ifgo"}
        c = _sigmoid(gate["f"]) * c + _sigmoid(gate["i"]) * np.tanh(gate["g"])
        h = _sigmoid(gate["o"]) * np.tanh(c)
        out.append(h @ f64(p["output"]["kernel"]) + f64(p["output"]["bias"]))
    return np.stack(out, 1)


def test_each_decoder_starts_from_its_own_fc_of_the_representation(data):
    model, batch = _tiny(data), _batch(data)
    params = _init(model, batch)
    r, logits = model.apply({"params": params}, batch)
    for task in ("rep", "de", "pos"):
        key = ms.TARGETS[task][0]
        inputs = np.concatenate([np.full((3, 1), BOS), np.asarray(batch[key])[:, :-1]], 1)
        want = _decoder_by_hand(params[f"decoders_{task}"], r, inputs)
        np.testing.assert_allclose(np.asarray(logits[task]), want, rtol=2e-4, atol=2e-5)
    # Own FC: moving the DE decoder's initial layer changes its logits and nobody else's.
    moved = jax.tree.map(lambda a: a, params)
    moved["decoders_de"]["initial"]["kernel"] = params["decoders_de"]["initial"]["kernel"] + 1.0
    _, after = model.apply({"params": moved}, batch)
    assert not np.allclose(np.asarray(after["de"]), np.asarray(logits["de"]))
    for task in ("rep", "pos"):
        np.testing.assert_array_equal(np.asarray(after[task]), np.asarray(logits[task]))


# ----------------------------------------------------------------------------- evaluation


def test_clustering_path_on_the_prototypes(data):
    model, batch = _tiny(data), _batch(data)
    params = _init(model, batch)
    codes, labels, sentences = ms.syntax_codes(model, params, data, seed=5, per_template=3, chunk=16)
    want_sentences, want_labels = syntax_prototypes(5, per_template=3)
    assert sentences == list(want_sentences) and np.array_equal(labels, want_labels)
    chars, lengths = data.encode_sentences(want_sentences)
    np.testing.assert_allclose(codes, np.asarray(ms.representation(model, params, chars, lengths)),
                               rtol=1e-5, atol=1e-6)
    assert codes.shape == (42, 4)
    # The empty sentences (label 13) are one point: their codes are equal.
    assert np.allclose(codes[labels == 13], codes[labels == 13][0])
    got = ms.best_clustering(codes, labels, k=14, runs=3, seed=1)
    confusion = got["confusion"]
    assert confusion.shape == (14, 14) and confusion.sum() == 42
    assert confusion.sum() - confusion.max(1).sum() == got["best"] == min(got["errors"])


def test_best_clustering_on_a_hand_counted_case():
    # Two categories on a line; K = 2 puts {0, 0, 0.1, 0.05} and {5, 5} apart: one label-1 point
    # (at 0.05) sits in the label-0 cluster, so the error is 1 whatever the seed.
    codes = np.array([[0.0], [0.0], [0.1], [0.05], [5.0], [5.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    got = ms.best_clustering(codes, labels, k=2, runs=4, seed=0)
    assert got["best"] == 1 and got["errors"] == [1, 1, 1, 1]
    assert sorted(map(tuple, got["confusion"].tolist())) == [(0, 2), (3, 1)]
    # Perfectly separated codes (one point per template, far apart): error 0 and a diagonal table.
    labels = np.repeat(np.arange(14), 5)
    codes = 100.0 * np.eye(14)[labels] + np.random.default_rng(0).normal(size=(70, 14)) * 1e-3
    got = ms.best_clustering(codes, labels, k=14, runs=5)
    assert got["best"] == 0 and sorted(got["confusion"].max(1).tolist()) == [5] * 14


def test_perplexities_are_the_token_weighted_exponent_over_padded_chunks(data):
    model = _tiny(data, ("rep", "pos"))
    batch = _batch(data, n=5)
    params = _init(model, batch)
    got = ms.decoder_perplexities(model, params, data, num=5, chunk=2)  # chunks 2, 2, 1 + 1 padded row
    _, logits = model.apply({"params": params}, batch)
    for task in ("rep", "pos"):
        key, length_key = ms.TARGETS[task]
        tokens = int(np.asarray(batch[length_key]).sum())
        nll = _nll_by_hand(logits[task], batch[key], batch[length_key]) * 5
        assert got[task]["tokens"] == tokens
        np.testing.assert_allclose(got[task]["perplexity"], np.exp(nll / tokens), rtol=1e-5)
    assert got["sentences"] == 5 and "de" not in got


# ----------------------------------------------------------------------------- the method


def test_config_holds_the_papers_values():
    c = configure("multitask_seq2seq_multitask_text")
    hp = c.multitask_seq2seq
    assert (c.dataset, tuple(hp.tasks), hp.representation_dim, hp.hidden) == ("multitask_text", ("rep", "de", "pos"),
                                                                             256, 512)
    assert (hp.per_template, hp.clusters, hp.kmeans_runs) == (100, 14, 100)
    rep = configure("multitask_seq2seq_rep").multitask_seq2seq
    assert (tuple(rep.tasks), rep.representation_dim) == (("rep",), 1024)
    rep_de = configure("multitask_seq2seq_rep_de").multitask_seq2seq
    assert (tuple(rep_de.tasks), rep_de.representation_dim) == (("rep", "de"), 1024)
    assert ms.PAPER_TABLE_2 == {"R-1024": 149, "R-D-1024": 22, "R-D-F-1024": 24, "R-D-256": 29, "R-D-P-256": 3}
    assert ms.model_name(("pos", "rep", "de"), 256) == "REP-DE-POS-256"
    with pytest.raises(ConfigError, match="multitask_seq2seq.tasks"):
        configure("multitask_seq2seq_multitask_text", **{"hp.tasks": ("rep", "es")})
    with pytest.raises(ConfigError, match="multitask_seq2seq.representation_dim"):
        configure("multitask_seq2seq_multitask_text", **{"hp.representation_dim": 0})
    with pytest.raises(ConfigError, match="multitask_text"):
        methods.build(configure("multitask_seq2seq_multitask_text", dataset="sentiment_text"),
                      get_dataset("sentiment_text"))


def test_trains_resumes_exactly_and_evaluate_writes_the_evaluation(tmp_path, monkeypatch, capsys):
    c = tiny_config("multitask_seq2seq")
    straight, rows = straight_and_resumed(c, tmp_path, 2, monkeypatch)
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["pos_nll"]) for r in rows)
    assert sorted(p.name for p in straight["pictures"]) == ["examples.md", "syntax_clusters.png", "syntax_pca.png"]
    written = read_json(tmp_path / "straight" / "evaluation.json")
    assert written["step"] == 4 and written["model"] == "REP-DE-POS-4"
    err = written["clustering_error"]
    assert err["runs"] == 2 and err["sentences"] == 42 and 0 <= err["best"] <= 42 - 3
    assert np.asarray(err["confusion_best_run"]).sum() == 42
    assert set(written["perplexity"]) == {"rep", "de", "pos", "sentences"}
    assert written["paper_table_2"]["R-D-P-256"] == 3 and written["paper_table_1"]["REP-1024"] == {"rep": 1.05}
    assert {"source", "rep", "de", "pos"} <= set(written["examples"][0])
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "straight"), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "the representation metrics do not apply to method 'multitask_seq2seq'" in out
    assert json.loads(out[out.index("{"):out.rindex("}") + 1])["clustering_error"]["best"] == err["best"]
    assert read_json(tmp_path / "straight" / "evaluation.json")["seed"] == 3
