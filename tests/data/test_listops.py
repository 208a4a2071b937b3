"""Tests for lra.data.listops: generator, evaluator, vocabulary and the TSV reader."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lra.data import listops
from lra.data.listops import (
    NUM_CLASSES,
    OOV_ID,
    PAD_ID,
    SPLIT_FILES,
    VOCAB,
    VOCAB_SIZE,
    encode,
    evaluate,
    generate_rows,
    read_tsv,
    tokenize,
    write_listops,
)
from lra.errors import LraError

DOC_EXAMPLE = "( ( ( ( [MED 1 ) ( ( ( [SM 3 ) 2 ) ] ) ) ( ( ( ( [MED 8 ) 7 ) 1 ) ] ) ) ] )"
SMALL = {"min_length": 10, "max_length": 60, "max_depth": 5}


@pytest.fixture(scope="module")
def small_rows() -> list[tuple[str, int]]:
    return generate_rows(300, seed=3, **SMALL)


# --- evaluate ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, value", [
    (DOC_EXAMPLE, 5),
    ("[MED 1 [SM 3 2 X [MED 8 7 1 X X", 5),  # the same tree after the official preprocessing
    ("[MED 1 [SM 3 2 ] [MED 8 7 1 ] ]", 5),
    ("( ( ( [MAX 2 ) 9 ) ] )", 9),
    ("[MAX 2 9 ]", 9),
    ("[MIN 4 7 3 8 ]", 3),
    ("[MED 1 2 ]", 1),  # int(np.median) of an even count truncates the mean 1.5
    ("[MED 3 4 6 9 ]", 5),
    ("[MED 9 0 5 ]", 5),
    ("[SM 9 8 7 ]", 4),  # 24 wraps to 4
    ("[SM 5 5 ]", 0),
    ("[MAX [MIN 9 [SM 6 7 ] ] [MED 0 1 2 3 ] 2 ]", 3),
    ("( ( ( [MAX ( ( ( [MIN 9 ) ( ( ( [SM 6 ) 7 ) ] ) ) ] ) ) 2 ) ] )", 3),
    ("7", 7),
])
def test_evaluate_hand_worked(expression: str, value: int) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize("expression, problem", [
    ("[MAX 2 9", "never closed"),
    ("[MAX 2 9 ] ]", "closes no operator"),
    ("[MAX ]", "no arguments"),
    ("[MAX 2 12 ]", "unknown token '12'"),
    ("[FOO 1 2 ]", "unknown token '[FOO'"),
    ("( [MAX 2 9 ]", "'(' never closed"),
    ("[MAX 2 9 ] )", "unbalanced ')'"),
    ("[MAX 2 ] 3", "second top-level"),
    ("", "empty"),
])
def test_evaluate_rejects_malformed(expression: str, problem: str) -> None:
    with pytest.raises(LraError, match=re.escape(problem)):
        evaluate(expression)


# --- generator --------------------------------------------------------------------------------------------

def _reference_tree(rng: random.Random, depth: int, max_depth: int, max_args: int) -> tuple[object, int]:
    """The original recursive generator, nested binary tuples and all, drawing from ``rng``."""
    r = rng.random() if depth < max_depth else 1
    if r > listops.VALUE_P:
        return rng.choice(listops.VALUES), 1
    n = rng.randint(2, max_args)
    children = [_reference_tree(rng, depth + 1, max_depth, max_args) for _ in range(n)]
    tree: object = (rng.choice(listops.OPERATORS), children[0][0])
    for child, _ in children[1:]:
        tree = (tree, child)
    return (tree, "]"), 2 + sum(length for _, length in children)


def _reference_string(tree: object) -> str:
    if isinstance(tree, tuple):
        return f"( {_reference_string(tree[0])} {_reference_string(tree[1])} )"
    return str(tree)


def _reference_value(tree: object) -> int:
    """The original's to_value: flatten the nested pairs back into (operator, arguments)."""
    if isinstance(tree, int):
        return tree
    items: list[object] = []
    node = tree[0]
    while isinstance(node[0], tuple):
        items.append(node[1])
        node = node[0]
    op, args = node[0], [_reference_value(node[1])] + [_reference_value(c) for c in reversed(items)]
    return {"[MIN": min, "[MAX": max, "[SM": lambda a: sum(a) % 10,
            "[MED": lambda a: int(np.median(a))}[op](args)


def test_sampler_matches_the_original_algorithm() -> None:
    # With no length cap the sampler must consume the random stream exactly like the original.
    ours, theirs = random.Random(11), random.Random(11)
    for _ in range(300):
        source, length, value = listops._sample(ours, 6, 6, cap=10**9)
        tree, ref_length = _reference_tree(theirs, 1, 6, 6)
        assert (source, length, value) == (_reference_string(tree), ref_length, _reference_value(tree))


def test_rows_evaluate_to_their_targets(small_rows: list[tuple[str, int]]) -> None:
    for source, target in small_rows:
        assert evaluate(source) == target
        assert evaluate(" ".join(tokenize(source))) == target


def test_rows_respect_strict_length_bounds_and_are_distinct(small_rows: list[tuple[str, int]]) -> None:
    lengths = [len(tokenize(source)) for source, _ in small_rows]
    assert all(SMALL["min_length"] < n < SMALL["max_length"] for n in lengths)
    assert len({source for source, _ in small_rows}) == len(small_rows) == 300


def test_generation_is_deterministic_per_seed(small_rows: list[tuple[str, int]]) -> None:
    assert generate_rows(300, seed=3, **SMALL) == small_rows
    assert generate_rows(300, seed=4, **SMALL) != small_rows


def test_distribution_covers_operators_and_classes() -> None:
    rows = generate_rows(400, seed=0, min_length=20, max_length=200)  # default depth and arity
    ops = Counter(token for source, _ in rows for token in tokenize(source) if token.startswith("["))
    assert set(ops) == set(listops.OPERATORS)
    assert set(Counter(target for _, target in rows)) == set(range(NUM_CLASSES))


@pytest.mark.parametrize("kwargs, problem", [
    ({"n": 0}, "positive"),
    ({"max_args": 1}, "max_args"),
    ({"max_depth": 0}, "max_depth"),
    ({"min_length": 10, "max_length": 11}, "strictly"),
    ({"min_length": 100, "max_depth": 2, "max_args": 3}, "lower min_length"),
])
def test_generate_rows_validates_arguments(kwargs: dict[str, int], problem: str) -> None:
    with pytest.raises(LraError, match=problem):
        generate_rows(**{"n": 5, "seed": 0, **kwargs})


def test_gives_up_on_bounds_that_are_possible_but_hopeless() -> None:
    # Depth 3 and 10 arguments reach at most 122 tokens, but trees that long are vanishingly rare.
    with pytest.raises(LraError, match="gave up after 500 .*lower min_length"):
        generate_rows(5, seed=0, min_length=115, max_length=200, max_depth=3, give_up_after=500)


def test_gives_up_when_too_few_distinct_trees_exist() -> None:
    # Depth 1 allows only the ten single-value trees.
    with pytest.raises(LraError, match="10 of 11 rows"):
        generate_rows(11, seed=0, min_length=0, max_length=5, max_depth=1, give_up_after=1000)


# --- vocabulary and encoding ------------------------------------------------------------------------------

def test_vocabulary_is_sorted_and_fixed() -> None:
    assert VOCAB == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X", "[MAX", "[MED", "[MIN", "[SM")
    assert (PAD_ID, OOV_ID, VOCAB_SIZE, NUM_CLASSES) == (0, 16, 17, 10)


def test_tokenize_and_encode() -> None:
    assert tokenize(DOC_EXAMPLE) == "[MED 1 [SM 3 2 X [MED 8 7 1 X X".split()
    assert encode("( ( [MAX 0 ) 9 ) ] )") == [12, 1, 10, 11]
    assert encode("[SM [MIN [MED [FOO 10 X") == [15, 14, 13, OOV_ID, OOV_ID, 11]


# --- files ------------------------------------------------------------------------------------------------

def test_write_and_read_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "new" / "listops"
    paths = write_listops(out, n_train=30, n_val=5, n_test=7, seed=1, **SMALL)
    assert paths == {split: out / name for split, name in SPLIT_FILES.items()}
    # no temp files left; the manifest says the set is complete
    assert sorted(p.name for p in out.iterdir()) == sorted([*SPLIT_FILES.values(), ".lra-listops.json"])
    sources: set[str] = set()
    for split, count in {"train": 30, "val": 5, "test": 7}.items():
        lines = paths[split].read_text().splitlines()
        assert lines[0] == "Source\tTarget" and len(lines) == count + 1
        rows = [line.split("\t") for line in lines[1:]]
        sources |= {source for source, _ in rows}
        tokens, labels = read_tsv(paths[split], max_length=64)
        assert tokens.shape == (count, 64) and tokens.dtype == np.int16
        assert labels.dtype == np.int64 and labels.tolist() == [int(t) for _, t in rows]
        for row, (source, _) in zip(tokens, rows):
            ids = encode(source)
            assert row[:len(ids)].tolist() == ids and not row[len(ids):].any()
    assert len(sources) == 42  # the splits do not overlap


def test_read_tsv_ids_truncation_and_fallback(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("Source\tTarget\n"
                    "( ( ( [MAX 2 ) 9 ) ] )\t9\n"
                    "( ( [SM 3 ) ( ( [MIN 4 ) 5 ) ] ) ] )\t7\r\n"
                    "[MAX 2 9 X\t9\n"
                    "\n")
    tokens, labels = read_tsv(path, max_length=6)
    sm, mn, mx, x = (VOCAB.index(t) + 1 for t in ("[SM", "[MIN", "[MAX", "X"))
    assert tokens.tolist() == [[mx, 3, 10, x, 0, 0], [sm, 4, mn, 5, 6, x], [mx, 3, 10, x, 0, 0]]
    assert labels.tolist() == [9, 7, 9]


@pytest.mark.parametrize("source", [
    "[MAXX 1 ]", "[MA X 1 ]", "[M AX5 ]", "3(4 ]", "[MIN( 2 ) ]", "10 ]", "[MIN 5 ] é",
    "[SM\x0b1 ]", "[SM\x1c1 ]", "1\xa02",
    "[SMIN 1 ]", "a[MAX 1 ]", "[MAX]", "[ 1 ] ( )", "[SM 1 [MED 2 [MIN 3", "X X ] 9 \x7f",
])
def test_read_tsv_matches_encode_on_irregular_sources(tmp_path: Path, source: str) -> None:
    path = tmp_path / "odd.tsv"
    # Regular rows around the odd one make sure a fallback for one row leaves the others intact.
    regular = "( ( ( [MED 1 ) 5 ) ] )"
    body = [(regular, 1), (source, 2), (regular, 3)]
    path.write_text("Source\tTarget\n" + "".join(f"{s}\t{t}\n" for s, t in body), encoding="utf-8")
    tokens, labels = read_tsv(path, max_length=12)
    for row, (s, _) in zip(tokens, body):
        ids = encode(s)[:12]
        assert row.tolist() == ids + [PAD_ID] * (12 - len(ids))
    assert labels.tolist() == [1, 2, 3]


def test_fast_encoder_agrees_with_encode_whenever_it_answers() -> None:
    rng = random.Random(5)
    pieces = ["(", ")", "[MAX", "[MED", "[MIN", "[SM", "]", "X", "7", "0", "[", "M", "A", "S", "1", "X("]
    sources = []
    for _ in range(2000):
        words = [rng.choice(pieces) for _ in range(rng.randint(0, 12))]
        sources.append("".join(w + rng.choice(["", " ", " ", " ", "  "]) for w in words))
    answered = []
    for s in sources:
        fast = listops._encode_fast([s.encode()], 8)
        if fast is not None:
            ids = encode(s)[:8]
            assert fast.tolist() == [ids + [PAD_ID] * (8 - len(ids))], s
            answered.append(s)
    # The check means something only if both outcomes occur often.
    assert 300 < len(answered) < 1900
    together = listops._encode_fast([s.encode() for s in answered], 8)
    assert together is not None
    assert together.tolist() == [(ids := encode(s)[:8]) + [PAD_ID] * (8 - len(ids)) for s in answered]


def test_read_tsv_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(LraError, match=r"basic_train\.tsv.*lra data generate listops --out DIR"):
        read_tsv(tmp_path / "basic_train.tsv")


@pytest.mark.parametrize("content, line, found", [
    ("Source,Target\n( [MAX 1 ] )\t1\n", 1, "Source,Target"),
    ("Source\tTarget\n[MAX 1 ]\t1\n[MAX 2 ]\t2\textra\n", 3, "found 3"),
    ("Source\tTarget\n[MAX 1 ]\t1\n[MAX 2 ]\n", 3, "found 1"),
    ("Source\tTarget\n[MAX 1 ]\t12\n", 2, "'12'"),
    ("Source\tTarget\n[MAX 1 ]\t1\n\n[MAX 2 ]\tabc\n", 4, "'abc'"),
    ("Source\tTarget\n[MAX 1 ]\t-1\n", 2, "'-1'"),
])
def test_read_tsv_errors_name_file_and_line(tmp_path: Path, content: str, line: int, found: str) -> None:
    path = tmp_path / "broken_listops.tsv"
    path.write_text(content)
    with pytest.raises(LraError, match=f"broken_listops\\.tsv: line {line}: .*{found}"):
        read_tsv(path)


# --- prepare and load_split (the shape of the other data modules) ----------------------------------------

def test_load_split_reads_each_split_through_the_cache(tmp_path: Path) -> None:
    paths = write_listops(tmp_path, n_train=12, n_val=4, n_test=5, seed=2, **SMALL)
    for split, count in {"train": 12, "val": 4, "test": 5}.items():
        tokens, labels = listops.load_split(tmp_path, split, 64)
        expected_tokens, expected_labels = read_tsv(paths[split], 64)
        assert tokens.dtype == np.int16 and labels.dtype == np.int64 and tokens.shape == (count, 64)
        assert np.array_equal(tokens, expected_tokens) and np.array_equal(labels, expected_labels)
        again = listops.load_split(tmp_path, split, 64)  # from the cache this time
        assert np.array_equal(again[0], tokens) and np.array_equal(again[1], labels)
    assert (tmp_path / ".cache").is_dir()


def test_load_split_missing_split_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(LraError, match=r"basic_val\.tsv: the ListOps val split is missing.*"
                                       r"lra data generate listops --out .*lra data prepare listops --source"):
        listops.load_split(tmp_path, "val", 64)


def test_prepare_installs_the_release_files(tmp_path: Path) -> None:
    release = tmp_path / "lra_release" / "listops-1000"
    release.mkdir(parents=True)
    content = {split: f"Source\tTarget\n[MAX 1 {i} ]\t{i}\n" for i, split in enumerate(SPLIT_FILES, start=1)}
    for split, name in SPLIT_FILES.items():
        (release / name).write_text(content[split])
    out = tmp_path / "prepared"
    assert listops.prepare(tmp_path / "lra_release", out) == out
    for split, name in SPLIT_FILES.items():
        assert (out / name).read_text() == content[split]
    assert listops.load_split(out, "test", 8)[1].tolist() == [3]

    (release / "basic_val.tsv").unlink()
    with pytest.raises(LraError, match=r"basic_val\.tsv not found under listops-1000/"):
        listops.prepare(tmp_path / "lra_release", tmp_path / "other")
