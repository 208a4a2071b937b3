"""ListOps as used by LRA: a seeded generator, a stack-machine evaluator, the TSV reader, and the task's
``prepare`` (from the LRA release) and ``load_split`` (as the other data modules).

The generator draws from the same distribution as the original LRA script
(lra_benchmarks/data/listops.py) but from a private ``random.Random(seed)``, so a seed fixes the data.
Release-format sources are fully parenthesised, e.g. ``( ( ( [MAX 2 ) 9 ) ] )``; models see them after the
official preprocessing: ``]`` becomes ``X`` and parentheses are dropped (``[MAX 2 9 X``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from random import Random

import numpy as np
from tqdm import tqdm

from lra.data.archive import check_set, extract_files, find_members, install_files
from lra.data.cache import cached_arrays
from lra.errors import LraError

OPERATORS: tuple[str, ...] = ("[MIN", "[MAX", "[MED", "[SM")  # FIRST and LAST are disabled in LRA
END = "]"
VALUES: tuple[int, ...] = tuple(range(10))
VALUE_P = 0.25  # a node below max_depth is an operator with probability VALUE_P, else a value

# The original built the vocabulary from a Python set, so ids changed between runs; a sorted order is stable.
VOCAB: tuple[str, ...] = tuple(sorted((*OPERATORS, "X", *map(str, VALUES))))
PAD_ID = 0
OOV_ID = len(VOCAB) + 1
VOCAB_SIZE = len(VOCAB) + 2
NUM_CLASSES = len(VALUES)
SPLIT_FILES = {"train": "basic_train.tsv", "val": "basic_val.tsv", "test": "basic_test.tsv"}
HEADER = "Source\tTarget"
SET_NAME = "listops"  # the manifest of a generated or prepared set: .lra-listops.json

_MEMBER = re.compile(r"(?:^|/)listops-1000/(basic_(?:train|val|test)\.tsv)$")  # in the LRA release

_TOKEN_IDS = {token: i + 1 for i, token in enumerate(VOCAB)}
_DIGITS = frozenset(map(str, VALUES))
_PREPROCESS = str.maketrans({"]": "X", "(": None, ")": None})
# read_tsv's fast path: single-byte tokens map through a byte table; an operator is named by the second
# byte after its "[" and checked against its whole tail, terminating space included ("[SM" has 3 bytes).
_BYTE_IDS = np.full(256, OOV_ID, dtype=np.int16)
_BYTE_IDS[[ord(t) for t in _TOKEN_IDS if len(t) == 1]] = [i for t, i in _TOKEN_IDS.items() if len(t) == 1]
_BYTE_IDS[ord(END)] = _TOKEN_IDS["X"]
_OP_ID = np.zeros(256, dtype=np.int16)
_OP_KEY = np.ones(256, dtype=np.uint32)  # with a zero mask, a key of 1 never matches
_OP_MASK = np.zeros(256, dtype=np.uint32)
for _op in OPERATORS:
    _tail = (_op[1:] + " ").encode()
    _OP_ID[_tail[1]] = _TOKEN_IDS[_op]
    _OP_KEY[_tail[1]] = int.from_bytes(_tail, "little")
    _OP_MASK[_tail[1]] = (1 << 8 * len(_tail)) - 1
del _op, _tail


def _apply(op: str, args: list[int]) -> int:
    if op == "[MIN":
        return min(args)
    if op == "[MAX":
        return max(args)
    if op == "[SM":
        return sum(args) % 10
    ordered = sorted(args)
    mid = len(ordered) // 2
    # The original takes int(np.median(...)): the mean of the two middle values, truncated.
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2


def _sample(rng: Random, max_depth: int, max_args: int, cap: int) -> tuple[str, int, int] | None:
    """Draw one tree as (source, token count, value), or None as soon as it reaches ``cap`` tokens.

    Random draws happen in the original's order (operator chosen after its children). Abandoning a tree
    that can no longer be accepted leaves the distribution of accepted trees unchanged and bounds the work.
    An explicit stack instead of recursion keeps any max_depth safe.
    """
    parts: list[str] = []
    stack: list[tuple[int, int, int, list[int]]] = []  # (depth, arity, index of its opening part, values)
    length, depth = 0, 1
    while True:
        if (rng.random() if depth < max_depth else 1.0) <= VALUE_P:
            arity = rng.randint(2, max_args)
            stack.append((depth, arity, len(parts), []))
            parts.append("")  # the opening needs the operator, which is only drawn after the children
            length, depth = length + 2, depth + 1
            if length >= cap:
                return None
            continue
        value = rng.choice(VALUES)
        parts.append(str(value))
        length += 1
        if length >= cap:
            return None
        while stack:  # hand the finished value up, closing every node whose last child this was
            depth, arity, opening, values = stack[-1]
            values.append(value)
            parts.append(")")
            if len(values) < arity:
                break
            stack.pop()
            op = rng.choice(OPERATORS)
            # Left-nested pairs ((op, c1), c2)... print as one "(" per child plus one for the closing "]".
            parts[opening] = "( " * (arity + 1) + op
            parts.extend((END, ")"))
            value = _apply(op, values)
        else:
            return " ".join(parts), length, value
        depth += 1


def _can_exceed(min_length: int, max_depth: int, max_args: int) -> bool:
    """Whether the largest tree (all nodes above max_depth max_args-ary operators) beats min_length."""
    length = 1
    for _ in range(max_depth - 1):
        if length > min_length:
            break  # stop early: with a large max_depth the full count has thousands of digits
        length = 2 + max_args * length
    return length > min_length


def generate_rows(n: int, *, seed: int, min_length: int = 500, max_length: int = 2000, max_depth: int = 10,
                  max_args: int = 10, progress: bool = False,
                  give_up_after: int = 2_000_000) -> list[tuple[str, int]]:
    """Return ``n`` distinct (source, target) rows with token counts strictly inside (min_length, max_length).

    Rows are shuffled with the same seeded generator (the original's set iteration order acted as a
    shuffle). Raises LraError if ``give_up_after`` trees in a row are rejected or duplicates.
    """
    if n < 1:
        raise LraError(f"ListOps: n must be a positive number of rows, got {n}")
    if max_depth < 1 or max_args < 2:
        raise LraError(f"ListOps: need max_depth >= 1 and max_args >= 2, got {max_depth} and {max_args}")
    if not 0 <= min_length < max_length - 1:
        raise LraError(f"ListOps: need 0 <= min_length < max_length - 1 so that some length lies strictly "
                       f"between them, got min_length={min_length}, max_length={max_length}")
    if not _can_exceed(min_length, max_depth, max_args):
        raise LraError(f"ListOps: no tree with max_depth={max_depth} and max_args={max_args} has more than "
                       f"min_length={min_length} tokens; lower min_length or raise max_depth/max_args")
    rng = Random(seed)
    # The source string is a one-to-one image of the tree, so keying on it deduplicates trees like the
    # original's set did; a dict keeps insertion order, so the result depends on the seed alone.
    rows: dict[str, int] = {}
    misses = 0
    with tqdm(total=n, disable=not progress, desc="ListOps", unit="row") as bar:
        while len(rows) < n:
            tree = _sample(rng, max_depth, max_args, max_length)
            if tree is not None and tree[1] > min_length and tree[0] not in rows:
                rows[tree[0]] = tree[2]
                misses = 0
                bar.update()
                continue
            misses += 1
            if misses >= give_up_after:
                raise LraError(
                    f"ListOps: gave up after {misses} trees in a row were out of bounds or duplicates "
                    f"({len(rows)} of {n} rows found, min_length={min_length}, max_length={max_length}, "
                    f"max_depth={max_depth}, max_args={max_args}); lower min_length, raise max_length, "
                    f"raise max_depth/max_args, or ask for fewer rows")
    out = list(rows.items())
    rng.shuffle(out)
    return out


def _write_split(path: Path, rows: list[tuple[str, int]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        f.writelines(f"{source}\t{target}\n" for source, target in rows)
        f.flush()
        os.fsync(f.fileno())


def write_listops(out_dir: str | Path, *, n_train: int = 96000, n_val: int = 2000, n_test: int = 2000,
                  seed: int = 0, min_length: int = 500, max_length: int = 2000, max_depth: int = 10,
                  max_args: int = 10, progress: bool = False) -> dict[str, Path]:
    """Generate the three splits and write them as the release's TSV files under ``out_dir``.

    The three files are written as one set (``archive.install_files``): a kill at any moment leaves the
    previous set, a set with files missing, or the new set, and the manifest ``.lra-listops.json`` says
    "complete" only once all three are in place. Nothing else in ``out_dir`` is touched.
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    if any(count < 0 for count in counts.values()):
        raise LraError(f"ListOps: split sizes must not be negative, got {counts}")
    settings = {"seed": seed, "min_length": min_length, "max_length": max_length, "max_depth": max_depth,
                "max_args": max_args}
    rows = generate_rows(sum(counts.values()), **settings, progress=progress)

    def write(folder: Path) -> list[str]:
        start = 0
        for split, count in counts.items():
            _write_split(folder / SPLIT_FILES[split], rows[start:start + count])
            start += count
        return list(SPLIT_FILES.values())

    out = Path(out_dir)
    redo = (f"lra data generate listops --out {out} --train {n_train} --val {n_val} --test {n_test} "
            f"--seed {seed} --min-length {min_length} --max-length {max_length} --max-depth {max_depth} "
            f"--max-args {max_args}")
    install_files(out, SET_NAME, write, "lra data generate listops", redo,
                  {"n_train": n_train, "n_val": n_val, "n_test": n_test, **settings})
    return {split: out / name for split, name in SPLIT_FILES.items()}


def tokenize(source: str) -> list[str]:
    """The official preprocessing: ``]`` -> ``X``, parentheses removed, split on whitespace."""
    return source.translate(_PREPROCESS).split()


def encode(source: str) -> list[int]:
    """Token ids of a source (1..15 in VOCAB order, OOV_ID for anything else); no padding."""
    get = _TOKEN_IDS.get
    return [get(token, OOV_ID) for token in tokenize(source)]


def evaluate(expression: str) -> int:
    """Value of a ListOps expression, parenthesised or flat, closed by ``]`` or ``X``."""
    spaced = expression.replace("(", " ( ").replace(")", " ) ").replace("]", " ] ")
    stack: list[tuple[str, list[int]]] = []
    result: int | None = None
    parens = 0
    for position, token in enumerate(spaced.split(), start=1):
        if token in ("(", ")"):
            # Parentheses carry no meaning, but unbalanced ones mean the string was damaged.
            parens += 1 if token == "(" else -1
            if parens < 0:
                raise LraError(f"ListOps expression: unbalanced ')' at token {position}")
            continue
        if token in OPERATORS:
            stack.append((token, []))
            continue
        if token in (END, "X"):
            if not stack:
                raise LraError(f"ListOps expression: '{token}' at token {position} closes no operator")
            op, args = stack.pop()
            if not args:
                raise LraError(f"ListOps expression: operator {op} closed at token {position} "
                               "has no arguments")
            value = _apply(op, args)
        elif token in _DIGITS:
            value = int(token)
        else:
            raise LraError(f"ListOps expression: unknown token {token!r} at token {position}; expected "
                           f"one of {', '.join(OPERATORS)}, ], X, a digit 0-9 or parentheses")
        if stack:
            stack[-1][1].append(value)
        elif result is None:
            result = value
        else:
            raise LraError(f"ListOps expression: a second top-level value starts at token {position}")
    if stack:
        raise LraError(f"ListOps expression: {len(stack)} operator(s) never closed, innermost {stack[-1][0]}")
    if parens:
        raise LraError(f"ListOps expression: {parens} '(' never closed")
    if result is None:
        raise LraError("ListOps expression: empty expression")
    return result


def _encode_fast(sources: list[bytes], max_length: int) -> np.ndarray | None:
    """encode() for many sources at once with array operations instead of per-token Python work.

    Returns None, leaving the lines to encode(), wherever the shortcut could differ from the official
    tokenisation: non-ASCII or control bytes, a parenthesis glued after a token (deleting it would join
    two tokens), or a multi-byte token other than an operator.
    """
    joined = b" ".join(sources)  # the joining spaces keep tokens from running across lines
    if not joined.isascii():
        return None
    a = np.frombuffer(joined + b"    ", dtype=np.uint8)  # padding keeps the operator look-ahead in bounds
    if a.min() < 32:
        return None
    paren = (a == 40) | (a == 41)  # byte values: 40 "(", 41 ")", 32 space, 91 "["
    solid = ~(paren | (a == 32))
    if (paren[1:] & solid[:-1]).any():
        return None
    brackets = np.flatnonzero(a == 91)
    window = brackets[:, None] + np.arange(1, 5)
    tail = np.ascontiguousarray(np.where(solid[window], a[window], 32)).view("<u4").ravel()
    second = a[brackets + 2]
    if ((tail & _OP_MASK[second]) != _OP_KEY[second]).any():
        return None
    solid[window[:, :3].ravel()] = False  # the operator's letters; its "[" then stands for the token
    if (solid[1:] & solid[:-1]).any():
        return None
    at = np.flatnonzero(solid)
    chars = a[at]
    ids = _BYTE_IDS[chars]
    ids[chars == 91] = _OP_ID[second]
    line_starts = np.cumsum([0] + [len(source) + 1 for source in sources[:-1]])
    first = np.searchsorted(at, line_starts)  # index of each line's first token
    counts = np.diff(first, append=len(at))
    column = np.arange(len(at)) - np.repeat(first, counts)
    keep = column < max_length
    out = np.zeros((len(sources), max_length), dtype=np.int16)
    out.ravel()[(np.repeat(np.arange(len(sources)), counts) * max_length + column)[keep]] = ids[keep]
    return out


def _encode_lines(path: Path, lines: list[tuple[int, bytes]], max_length: int) -> np.ndarray:
    out = _encode_fast([source for _, source in lines], max_length)
    if out is not None:
        return out
    out = np.zeros((len(lines), max_length), dtype=np.int16)
    for row, (lineno, source) in enumerate(lines):
        try:
            ids = encode(source.decode("utf-8"))[:max_length]
        except UnicodeDecodeError as e:
            raise LraError(f"{path}: line {lineno}: expected UTF-8 text: {e}") from e
        out[row, :len(ids)] = ids
    return out


def read_tsv(path: str | Path, max_length: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Read a release TSV into int16 tokens (N, max_length), right-padded with PAD_ID, and int64 labels."""
    path = Path(path)
    if max_length < 1:
        raise LraError(f"ListOps: max_length must be positive, got {max_length}")
    if not path.is_file():
        raise LraError(f"{path}: ListOps file not found; create it with "
                       "`lra data generate listops --out DIR` or download the LRA release "
                       "(lra_release/listops-1000)")
    blocks: list[np.ndarray] = []
    pending: list[tuple[int, bytes]] = []
    labels: list[int] = []
    # Bytes, not text: the fast path needs no decoding; lines are encoded a few hundred at a time so that
    # array operations are not dominated by per-call overhead.
    with path.open("rb") as f:
        header = f.readline().rstrip(b"\r\n")
        if header != HEADER.encode():
            raise LraError(f"{path}: line 1: expected the header 'Source<TAB>Target', "
                           f"found {header.decode('utf-8', 'replace')!r}")
        for lineno, line in enumerate(f, start=2):
            line = line.rstrip(b"\r\n")
            if not line:
                continue  # tolerate blank lines, e.g. a trailing one left by an editor
            fields = line.split(b"\t")
            if len(fields) != 2:
                raise LraError(f"{path}: line {lineno}: expected 2 tab-separated fields (Source, Target), "
                               f"found {len(fields)}")
            target = fields[1].strip()
            if not (target.isdigit() and int(target) < NUM_CLASSES):
                raise LraError(f"{path}: line {lineno}: expected a target integer in 0..{NUM_CLASSES - 1}, "
                               f"found {fields[1].decode('utf-8', 'replace')!r}")
            labels.append(int(target))
            pending.append((lineno, fields[0]))
            if len(pending) == 256:
                blocks.append(_encode_lines(path, pending, max_length))
                pending = []
    if pending:
        blocks.append(_encode_lines(path, pending, max_length))
    tokens = np.concatenate(blocks) if blocks else np.zeros((0, max_length), dtype=np.int16)
    return tokens, np.asarray(labels, dtype=np.int64)


def prepare(source: Path, data_dir: Path, progress: bool = False) -> Path:
    """Install the release's listops-1000/basic_{train,val,test}.tsv directly in data_dir, as one set."""
    members = find_members(Path(source), lambda p: m.group(1) if (m := _MEMBER.search(p)) else None)
    missing = sorted(set(SPLIT_FILES.values()) - set(members))
    if missing:
        raise LraError(f"{source}: {', '.join(missing)} not found under listops-1000/; expected the LRA release")
    return extract_files(Path(source), members, Path(data_dir), SET_NAME, "lra data prepare listops",
                         f"lra data prepare listops --source {source} --data-dir {data_dir}")


def load_split(data_dir: Path, split: str, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """One split's int16 tokens (N, max_length) and int64 labels, through the array cache."""
    data_dir = Path(data_dir)
    path = data_dir / SPLIT_FILES[split]
    check_set(data_dir, SET_NAME)
    if not path.is_file():
        names = ", ".join(SPLIT_FILES.values())
        raise LraError(f"{path}: the ListOps {split} split is missing (expected {names} in {data_dir}); "
                       f"create them with `lra data generate listops --out {data_dir}` or "
                       f"`lra data prepare listops --source lra_release.gz --data-dir {data_dir}`")
    arrays = cached_arrays(
        data_dir / ".cache", f"listops-{split}", {"max_length": max_length, "format": 1}, [path],
        lambda: dict(zip(("tokens", "labels"), read_tsv(path, max_length))),
        keys=("tokens", "labels"),
    )
    return arrays["tokens"], arrays["labels"].astype(np.int64)
