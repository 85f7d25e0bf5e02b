import random

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from taxon.qna.samples import make_sample
from taxon.train.data import IGNORE, TrainingSet, encode
from taxon.train.distributed import Context
from taxon.train.loop import row_loss
from taxon.train.packing import pack_rows, plan_epochs, rank_share, row_arrays, row_mask


def test_best_fit_decreasing_places_every_sample_once_within_capacity():
    rng = random.Random(0)
    lengths = [rng.randint(20, 300) for _ in range(500)]
    rows = pack_rows(lengths, list(range(500)), 512)
    assert sorted(i for row in rows for i in row) == list(range(500))
    assert all(sum(lengths[i] for i in row) <= 512 for row in rows)
    assert sum(lengths) / (len(rows) * 512) > 0.95


def encoded_samples(tokenizer, count: int):
    samples = []
    for n in range(count):
        messages = make_sample(f"What is {n} plus {n % 5}?", f"{n} plus {n % 5} equals. " + "yes " * (n % 11), None, {})
        samples.append(encode(tokenizer, messages["messages"], 512, "trim")[0])
    return samples


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, attn_implementation="sdpa")
    return tokenizer, model.eval()


def test_plan_is_deterministic_from_the_seed_and_covers_every_sample_each_epoch(tiny):
    samples = encoded_samples(tiny[0], 60)
    plan = plan_epochs(samples, 128, 4, 2, seed=7)
    assert plan == plan_epochs(samples, 128, 4, 2, seed=7)
    assert plan.steps != plan_epochs(samples, 128, 4, 2, seed=8).steps
    for epoch in range(2):
        rows = [row for step, e in zip(plan.steps, plan.step_epochs) if e == epoch for row in step]
        assert sorted(i for row in rows for i in row) == list(range(60))
    assert plan.step_targets[0] == sum(samples[i].target_count for row in plan.steps[0] for i in row)


def test_ranks_share_a_step_evenly_and_run_the_same_number_of_rows():
    step = [(0,), (1, 2), (3,)]
    shares = [rank_share(step, rank, 2) for rank in range(2)]
    assert [len(share) for share in shares] == [2, 2]
    real = [row for share in shares for row, weight in share if weight]
    assert sorted(real) == sorted(step)
    assert [weight for _, weight in shares[1]] == [1.0, 0.0]  # the short rank repeats a row at weight 0


def per_token_losses(model, input_ids, positions, targets, use_cache=False):
    logits = model(
        input_ids=torch.tensor([input_ids]),
        position_ids=torch.tensor([positions]),
        attention_mask=None,
        use_cache=use_cache,
    ).logits[0]
    return F.cross_entropy(logits, torch.tensor(targets), ignore_index=IGNORE, reduction="none")


def test_a_packed_row_gives_exactly_the_losses_of_its_samples_run_alone(tiny):
    tokenizer, model = tiny
    samples = encoded_samples(tokenizer, 4)
    row = (0, 1, 2, 3)
    with torch.no_grad():
        packed = per_token_losses(model, *row_arrays(row, samples))
        alone = torch.cat([per_token_losses(model, *row_arrays((i,), samples)) for i in row])
        torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
        # the training loop's loss: logits only where a target is, summed
        context = Context(rank=0, world=1, local_rank=0, device=torch.device("cpu"))
        loss, tokens = row_loss(model, row, TrainingSet(samples, "hash"), "none", context)
        torch.testing.assert_close(loss, alone.sum(), rtol=1e-5, atol=1e-4)
        assert tokens == sum(len(samples[i]) for i in row)
        # the trap this avoids: with a cache the position ids are not read as sample boundaries
        leaky = per_token_losses(model, *row_arrays(row, samples), use_cache=True)
    assert not torch.allclose(leaky, alone, atol=1e-3)


def test_a_row_holding_the_shared_prompt_prefix_once_gives_each_sample_its_loss_alone(tiny):
    tokenizer, model = tiny
    samples = encoded_samples(tokenizer, 4)
    training_set = TrainingSet(samples, "hash")
    shared = training_set.prompt_prefix
    assert tokenizer.decode(samples[0].input_ids[:shared]) == "<|im_start|>user\nWhat is"
    row = (0, 1, 2, 3)
    input_ids, positions, targets = row_arrays(row, samples, shared)
    assert len(input_ids) == sum(len(samples[i]) for i in row) - 3 * shared
    assert positions[shared : shared + 2] == [shared, shared + 1]  # a sample goes on from the prefix's positions
    context = Context(rank=0, world=1, local_rank=0, device=torch.device("cpu"))
    with torch.no_grad():
        logits = model(
            input_ids=torch.tensor([input_ids]),
            position_ids=torch.tensor([positions]),
            attention_mask=row_mask(positions, shared),
            use_cache=False,
        ).logits[0]
        held_once = F.cross_entropy(logits, torch.tensor(targets), ignore_index=IGNORE, reduction="none")
        alone = torch.cat([per_token_losses(model, *row_arrays((i,), samples))[shared:] for i in row])
        torch.testing.assert_close(held_once[shared:], alone, rtol=1e-5, atol=1e-5)
        loss, tokens = row_loss(model, row, training_set, "none", context, shared)
        torch.testing.assert_close(loss, alone.sum(), rtol=1e-5, atol=1e-4)
    assert tokens == sum(len(samples[i]) for i in row)  # counted as the samples' own tokens
