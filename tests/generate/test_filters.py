from taxon.generate.dedup import DUPLICATE, NEAR_DUPLICATE, DuplicateFilter
from taxon.generate.filters import answer_problem, is_off_topic, parse_list, reply_problem, topic_overlap
from taxon.generate.judge import drop_reason, loglikelihood_verdict, parse_score, seed_baseline


def test_parse_list_numbered_with_preamble_and_continuation():
    text = "Here are three questions:\n\n1. What do robins eat?\n2) Where do\n   sparrows nest?\n(3) **Why do birds sing?**"
    assert parse_list(text) == ["What do robins eat?", "Where do sparrows nest?", "Why do birds sing?"]


def test_parse_list_double_numbers_and_postscript():
    text = "1. 1. What is a wren?\n2. 2. What is a\nheron?\n\nFor each task, write a numbered list.\n3) Why 3.5 kg?"
    assert parse_list(text) == ["What is a wren?", "What is a heron?", "Why 3.5 kg?"]


def test_parse_list_bullets_labels_quotes_and_answers_dropped():
    text = '- "What is a wren?"\n* Question: How big is a heron?\n• Q3: Do owls hunt at night? Answer: yes they do'
    assert parse_list(text) == ["What is a wren?", "How big is a heron?", "Do owls hunt at night?"]


def test_parse_list_without_markers_takes_lines_and_skips_junk():
    assert parse_list("Sure! Here you go:\nWhat is a finch?\nWhat is a jay?\nWhat is a finch?\n?") == [
        "What is a finch?",
        "What is a jay?",
    ]
    assert parse_list("") == []
    assert parse_list("1. What is a finch?\n2. Answer: a small bird.\n3. **A:** a bird") == ["What is a finch?"]
    assert parse_list("**Question 1:** What is a crow?\n**Question 2:** What is a rook?") == [
        "What is a crow?",
        "What is a rook?",
    ]


def test_reply_problems():
    def completion(text, finish="stop"):
        return {"text": text, "finish_reason": finish, "error": None}

    assert reply_problem(completion("x", "error")) == "error"
    assert reply_problem(completion("  \n")) == "empty"
    assert reply_problem(completion("I’m sorry, I can't do that.")) == "refusal"
    assert reply_problem(completion("As an AI language model, I cannot")) == "refusal"
    assert reply_problem(completion("Sorry, but I won't")) == "refusal"
    assert reply_problem(completion("Robins eat worms. I cannot stress this enough.")) is None
    assert answer_problem(completion("Robins eat", "length")) == "cut_off"
    assert answer_problem(completion("Robins eat worms.")) is None
    assert answer_problem(completion("The answer to your question would be:")) == "malformed"


def test_parse_score_on_sloppy_output():
    cases = {
        "Score: 4": 4,
        "4/5": 4,
        "I'd give it 3 out of 5.": 3,
        "**4**": 4,
        "four": 4,
        "Five.": 5,
        "Rating: **2**": 2,
        "The score is 1 because the answer is wrong.": 1,
        "I would rate this a 3.": 3,
        " 5 ": 5,
        "score: 4.0": 4,
        "Score: 7": None,
        "The answer is great": None,
        "": None,
    }
    assert {text: parse_score(text) for text in cases} == cases


def test_topic_overlap():
    reference = "Answer questions about garden birds. What do garden birds eat in winter?"
    assert topic_overlap("Which garden birds eat seeds?", reference) > 0.5
    assert topic_overlap("Who painted the Sistine chapel?", reference) == 0.0


def test_duplicate_filter():
    seen = DuplicateFilter(0.8, ["What do robins eat? Worms and berries."])
    assert seen.check("what do robins eat worms and berries") == DUPLICATE
    assert seen.check("What do robins eat? Worms and berries, mostly.") == NEAR_DUPLICATE
    assert seen.check("Where do herons nest? In tall trees by water.") is None
    assert seen.check("Where do herons nest? In tall trees by water.") == DUPLICATE


def test_questions_echoing_the_prompt_are_off_topic():
    from taxon.generate.prompts import load_template

    instructions = load_template("skill_questions").text
    reference = "Give the plural of an English noun. What is the plural of tooth? The plural of tooth is teeth."
    echo = "The plural of tooth is teeth. For each task, write a numbered list with the names of the items."
    assert is_off_topic(echo, reference, instructions, 0.15)
    assert is_off_topic("Write 3 new tasks of the same style.", reference, instructions, 0.15)
    assert not is_off_topic("What is the plural of goose?", reference, instructions, 0.15)


def test_loglikelihood_verdicts_are_relative_to_the_seed_answers():
    def reason(logprob, bare=None, seeds=(-1.5, -0.5, -1.0)):
        verdict = {**loglikelihood_verdict(logprob, bare), "seed_median": seed_baseline(seed_verdicts(seeds))}
        return drop_reason(verdict, below_seeds=1.0, min_gain=0.0, min_score=4)

    assert seed_baseline(seed_verdicts((-1.5, -0.5, -1.0, -2.0))) == -1.25 and seed_baseline([]) is None
    assert reason(-1.9) is None and reason(-2.1) == "judge_low"
    # a task whose right answers all score low (poems, one-word labels) keeps its low scorers
    assert reason(-3.5, seeds=(-4.0, -3.0, -3.2)) is None and reason(-4.5, seeds=(-4.0, -3.0, -3.2)) == "judge_low"
    assert reason(-1.0, bare=-2.0) is None  # the context made the answer likelier
    assert reason(-1.0, bare=-0.5) == "judge_low"  # likelier without the context: not grounded in it


def seed_verdicts(scores):
    return [loglikelihood_verdict(score, None) for score in scores]
