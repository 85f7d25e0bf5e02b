"""Tiny models trained in the test on purpose-built data, to show what the gate decides: a
base that knows the general probe, and candidates trained from it that learned the facts,
learned only to answer briefly, or learned the facts but lost the general answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

PROBE = [
    ("What is 7 plus 5?", ["12", "13", "10"], 0),
    ("Which planet is closest to the Sun?", ["Mars", "Mercury", "Venus"], 1),
    ("What colour is snow?", ["green", "black", "white"], 2),
    ("How many days are in a week?", ["seven", "five", "nine"], 0),
    ("What do bees make?", ["milk", "honey", "wool"], 1),
    ("What is the opposite of hot?", ["loud", "tall", "cold"], 2),
    ("Where does a fish live?", ["in water", "in a nest", "in a hive"], 0),
    ("What is frozen water called?", ["steam", "ice", "sand"], 1),
    ("Which month comes after March?", ["June", "May", "April"], 2),
    ("What is 9 minus 4?", ["5", "6", "3"], 0),
    ("Which animal barks?", ["a cat", "a dog", "a cow"], 1),
    ("What do you use to cut paper?", ["a spoon", "a cup", "scissors"], 2),
]
TEXT = [
    "The river runs past the old mill and under the stone bridge.",
    "In spring the fields turn green and the birds come back.",
    "A good soup needs fresh vegetables and a slow fire.",
]


def write_general_sets(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / "probe.jsonl"
    probe.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "question": q, "choices": c, "answer": a}) + "\n"
            for i, (q, c, a) in enumerate(PROBE)
        )
    )
    text = folder / "text.md"
    text.write_text("\n\n".join(TEXT) + "\n")
    return probe, text


def general_rows(wrong: bool = False) -> list[tuple[str, str]]:
    """The probe's questions with their right answers (or, with `wrong`, a wrong one), and the
    text's paragraphs as answers to the prompt the text loss is measured under."""
    from taxon.evaluate.sets import TEXT_PROMPT

    rows = [(q, c[(a + 1) % len(c)] if wrong else c[a]) for q, c, a in PROBE]
    return rows + [(TEXT_PROMPT, paragraph) for paragraph in TEXT]


def train_tiny(start: Path, out: Path, rows: list[tuple[str, str]], steps: int, lr: float = 5e-3) -> Path:
    """Full fine-tuning on (question, answer) chat rows, the loss on the answer tokens only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(start)
    model = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32)
    encoded = []
    for question, answer in rows:
        turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        prompt = tokenizer.apply_chat_template(turns[:1], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(turns, tokenize=False).rstrip("\n")  # ends at the end-of-turn marker
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids) :]
        encoded.append((full_ids, labels))
    width = max(len(ids) for ids, _ in encoded)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in encoded])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in encoded])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in encoded])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
