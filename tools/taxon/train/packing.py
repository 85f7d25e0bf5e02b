"""Padding-free batching: samples packed into rows of at most `pack_tokens` tokens (best-fit
decreasing), each row one sequence whose position ids restart at 0 for every sample. With
no attention mask and no cache, transformers reads the sample boundaries from the position
ids (a block-diagonal mask for sdpa, varlen kernels for flash attention), so no sample sees
another and no padding token is computed.

A row can also be run with its samples' shared prompt prefix (the opening every sample's chat
template renders alike, `shared_prefix` tokens) held once, then each sample without it, its
positions continuing from the prefix's: `row_mask` lets every sample attend to the prefix and
to itself, so each sample's loss is what it is alone, for fewer tokens. The plan is the same.

The whole run is planned up front from the seed: per epoch a shuffle, a packing and a row
order, then optimizer steps of `rows_per_step` rows. The plan is the same on every rank and
every rerun, so a step number is a complete data position for resuming.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Any

from taxon.train.data import Encoded


def pack_rows(lengths: list[int], order: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: longest first (ties in `order`'s order), each into the fullest row it fits."""
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (free tokens, row index)
    for index in sorted(order, key=lambda i: -lengths[i]):
        length = lengths[index]
        position = bisect.bisect_left(free, (length, -1))
        if position < len(free):
            room, row = free.pop(position)
        else:
            room, row = capacity, len(rows)
            rows.append([])
        rows[row].append(index)
        if room - length > 0:
            bisect.insort(free, (room - length, row))
    return rows


@dataclass(frozen=True)
class Plan:
    steps: list[list[tuple[int, ...]]]  # per optimizer step, its rows; a row is sample indices
    step_epochs: list[int]
    step_targets: list[int]  # trained tokens per step, over all its rows (the loss denominator)

    @property
    def total_steps(self) -> int:
        return len(self.steps)

    def first(self, count: int) -> Plan:
        return Plan(self.steps[:count], self.step_epochs[:count], self.step_targets[:count])


def plan_epochs(samples: list[Encoded], pack_tokens: int, rows_per_step: int, epochs: int, seed: int) -> Plan:
    lengths = [len(sample) for sample in samples]
    if max(lengths) > pack_tokens:
        raise ValueError(f"a sample of {max(lengths)} tokens does not fit a row of {pack_tokens}")
    steps, step_epochs, step_targets = [], [], []
    for epoch in range(epochs):
        rng = random.Random(f"{seed}:{epoch}")
        order = list(range(len(samples)))
        rng.shuffle(order)
        rows = [tuple(row) for row in pack_rows(lengths, order, pack_tokens)]
        rng.shuffle(rows)
        for start in range(0, len(rows), rows_per_step):
            step = rows[start : start + rows_per_step]
            steps.append(step)
            step_epochs.append(epoch)
            step_targets.append(sum(samples[i].target_count for row in step for i in row))
    return Plan(steps, step_epochs, step_targets)


def rank_share(step: list[tuple[int, ...]], rank: int, world: int) -> list[tuple[tuple[int, ...], float]]:
    """This rank's rows of a step, each with its loss weight. Every rank runs the same number
    of rows (collectives must line up); a rank short of rows repeats one with weight 0."""
    mine = [(row, 1.0) for row in step[rank::world]]
    per_rank = -(-len(step) // world)
    while len(mine) < per_rank:
        mine.append((step[0], 0.0))
    return mine


def row_arrays(
    row: tuple[int, ...], samples: list[Encoded], shared_prefix: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """(input ids, position ids, targets) of one packed row."""
    first = samples[row[0]]
    input_ids, targets = list(first.input_ids[:shared_prefix]), list(first.targets[:shared_prefix])
    positions = list(range(shared_prefix))
    for index in row:
        sample = samples[index]
        input_ids.extend(sample.input_ids[shared_prefix:])
        positions.extend(range(shared_prefix, len(sample)))
        targets.extend(sample.targets[shared_prefix:])
    return input_ids, positions, targets


def row_mask(positions: list[int], shared_prefix: int) -> Any:
    """The attention mask of a row with a shared prefix, [1, 1, query, key] booleans: causal,
    and each sample (a run of positions from `shared_prefix` on) sees only the prefix and
    itself. None without a shared prefix: the position ids alone keep samples apart."""
    if not shared_prefix:
        return None
    import torch

    position = torch.tensor(positions)
    segment = (position == shared_prefix).cumsum(0)  # 0 for the prefix, then 1, 2, ... per sample
    causal = torch.ones(len(positions), len(positions), dtype=torch.bool).tril()
    visible = (segment[:, None] == segment[None, :]) | (segment[None, :] == 0)
    return (causal & visible)[None, None]


def fill_fraction(plan: Plan, samples: list[Encoded], pack_tokens: int) -> float:
    """Tokens in rows / row capacity: how full packing gets the rows (attention cost per row)."""
    rows = [row for step in plan.steps for row in step]
    return sum(len(samples[i]) for row in rows for i in row) / (len(rows) * pack_tokens)
