"""Run as a script under any transformers: load a model folder as a user would (AutoConfig,
AutoTokenizer, AutoModelForCausalLM, float32) and print what it computes as JSON: the
tokenizer's class, ids and chat text, the rope base it read, the logits of a short prompt and
the mean NLL of a long token sequence past position 1,000 (where a wrong rope_theta shows)."""

import json
import sys


def main(folder: str, long_ids: list[int]) -> dict:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(folder)
    rope = getattr(config, "rope_parameters", None) or {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as error:  # what a user of this version sees
        tokens = {"tokenizer_error": f"{type(error).__name__}: {error}"}
    else:
        chat = tokenizer.apply_chat_template(
            [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, tokenize=False
        )
        tokens = {
            "tokenizer_class": type(tokenizer).__name__,
            "chat": chat,
            "ids": tokenizer(chat, add_special_tokens=False)["input_ids"],
            "eos_token": tokenizer.eos_token,
        }
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([long_ids[:32]])).logits[0, -1]
        sequence = torch.tensor([long_ids])
        long_logits = model(sequence).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(long_logits, sequence[0, 1:], reduction="none")
    return {
        "transformers": transformers.__version__,
        "rope_theta": getattr(config, "rope_theta", None) or rope.get("rope_theta"),
        **tokens,
        "logits": logits.tolist(),
        "far_logits": long_logits[-1].tolist(),
        "nll_after_1000": nll[1000:].mean().item(),
        "nll_before_1000": nll[:1000].mean().item(),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], json.loads(sys.argv[2]))))
