#!/usr/bin/python3
"""Differential check of the two readers that must behave exactly as Python
3.11 does (SPEC §3): normalize_published_at (datetime.fromisoformat(...)
.isoformat()) and python_float (float()).

Inputs: every string and number found in the fuzz corpora of
fuzz_callback_answer and fuzz_published (the committed seeds and, when
present, what the fuzzers found in <build>/fuzz-corpus/), plus strings
generated around the two grammars. They go through python_diff_driver (the
daemon's code) and through Python itself; any difference is printed and
makes the exit status 1.

Usage: python_diff.py DRIVER [BUILD_DIR] [--generated N]
"""
from __future__ import annotations

import datetime
import json
import random
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def py_timestamp(text: str):
    try:
        return datetime.datetime.fromisoformat(text).isoformat()
    except ValueError:
        return None


def py_float(value):
    if isinstance(value, bool):
        value = int(value)
    if not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if number != number:
        return "nan"
    if number in (float("inf"), float("-inf")):
        return "inf" if number > 0 else "-inf"
    return "%.17g" % number


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def walk(value, strings: set, numbers: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            strings.add(k)
            walk(v, strings, numbers)
    elif isinstance(value, list):
        for v in value:
            walk(v, strings, numbers)
    elif isinstance(value, str):
        strings.add(value)
    elif isinstance(value, int) and abs(value) <= 10**300:
        numbers.append(value)
    elif isinstance(value, float) and value == value and abs(value) != float("inf"):  # JSON has no inf/nan
        numbers.append(value)


def corpus_inputs(build: Path | None) -> tuple[set, list]:
    strings: set[str] = set()
    numbers: list = []
    dirs = []
    for target, skip in (("fuzz_callback_answer", 0), ("fuzz_published", 1)):
        dirs.append((HERE / "corpus" / target, skip))
        if build is not None:
            dirs.append((build / "fuzz-corpus" / target, skip))
    for directory, skip in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            data = path.read_bytes()[skip:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(text) <= 300:
                strings.add(text)
            try:
                walk(json.loads(text), strings, numbers)
            except (ValueError, RecursionError):
                pass
    return {s for s in strings if encodable(s) and len(s) <= 300}, numbers


DATE_PIECES = ["2026", "0001", "9999", "0000", "1970", "2000", "2024", "-", "W", "48", "53", "01", "00", "13",
               "12", "-3", "3", "7", "8", "02", "29", "30", "31", "11", "25", "1125", "202611", "20261125"]
TIME_PIECES = ["T", " ", "t", "1", "11", "24", "23", "00", ":", "45", "60", "59", "09", ".", ",", "5", "123",
               "123456", "1234567", "999999999", "Z", "z", "+", "-", "00:00", "05:30", "0530", "05", "24:00",
               "23:59:59.999999", "05:30:15", "05:30:15.5", "053015", "\u0661", "\x00", "\u2003"]
FLOAT_PIECES = ["1", "0", "9", "12", "_", "__", ".", "e", "E", "+", "-", "inf", "Infinity", "nan", "NaN", "INF",
                " ", "\t", "\n", "\u2003", "\u00a0", "\u0661", "\u0669", "\uff11", "\U0001d7ce", "x", "0x1p3",
                "308", "309", "324", "325", "1e-400", "e5", "\x00", "\x7f", "\x85"]


def structured_timestamp(rng: random.Random) -> str:
    """A timestamp in one of the forms fromisoformat reads, with edge values."""
    year = rng.choice([1, 2, 999, 1970, 2000, 2024, 2026, 9999, rng.randint(1, 9999)])
    extended = rng.random() < 0.7
    sep = "-" if extended else ""
    if rng.random() < 0.2:  # ISO week date
        week = rng.choice([1, 52, 53, rng.randint(1, 53)])
        date = f"{year:04d}{sep}W{week:02d}"
        if rng.random() < 0.7:
            date += f"{sep}{rng.randint(1, 7)}"
    else:
        month = rng.choice([1, 2, 12, rng.randint(1, 12)])
        day = rng.choice([1, 28, 29, 30, 31, rng.randint(1, 31)])
        date = f"{year:04d}{sep}{month:02d}{sep}{day:02d}"
    if rng.random() < 0.15:
        return date
    colon = ":" if rng.random() < 0.7 else ""
    hour = rng.choice([0, 23, 24, rng.randint(0, 23)])
    clock = f"{hour:02d}"
    for _ in range(rng.randint(0, 2)):
        clock += f"{colon}{rng.choice([0, 59, rng.randint(0, 59)]):02d}"
    if clock.count(colon) == 2 or (not colon and len(clock) == 6):
        if rng.random() < 0.5:
            clock += rng.choice(".,") + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
    offset = ""
    r = rng.random()
    if r < 0.25:
        offset = rng.choice("Zz")
    elif r < 0.6:
        oc = ":" if rng.random() < 0.7 else ""
        offset = rng.choice("+-") + f"{rng.choice([0, 5, 14, 23, 24, rng.randint(0, 23)]):02d}"
        for _ in range(rng.randint(0, 2)):
            offset += f"{oc}{rng.randint(0, 59):02d}"
        if rng.random() < 0.1:
            offset += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 7)))
    return date + rng.choice("T T T t") + clock + offset


def generated(n: int, rng: random.Random) -> tuple[list, list]:
    stamps, floats = [], []
    for _ in range(n):
        if rng.random() < 0.6:
            text = structured_timestamp(rng)
        else:
            parts = [rng.choice(DATE_PIECES) for _ in range(rng.randint(1, 5))]
            parts += [rng.choice(TIME_PIECES) for _ in range(rng.randint(0, 8))]
            text = "".join(parts)
        if rng.random() < 0.25 and text:  # point mutations
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice(["0", "9", "-", ":", "T", ".", "+", "Z", " ", "", "\x00", "\u0661"]) + text[i + 1:]
        stamps.append(text)
        floats.append("".join(rng.choice(FLOAT_PIECES) for _ in range(rng.randint(1, 6))))
    return stamps, floats


def main() -> int:
    args = sys.argv[1:]
    count = 100_000
    if "--generated" in args:
        i = args.index("--generated")
        count = int(args[i + 1])
        del args[i : i + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    driver = args[0]
    build = Path(args[1]) if len(args) > 1 else None

    strings, numbers = corpus_inputs(build)
    stamps, float_strings = generated(count, random.Random(2026))
    stamps = [s for s in stamps if encodable(s)]
    requests = [("ts", s) for s in sorted(strings)] + [("ts", s) for s in stamps]
    requests += [("float", s) for s in sorted(strings)] + [("float", s) for s in float_strings]
    requests += [("float", v) for v in numbers] + [("float", v) for v in (True, False, None, [], {}, 0, -0.0, 1e308)]

    payload = "".join(json.dumps(list(r)) + "\n" for r in requests)
    result = subprocess.run([driver], input=payload.encode(), capture_output=True, timeout=600)
    if result.returncode != 0:
        print(result.stderr.decode(errors="replace")[-4000:], file=sys.stderr)
        print(f"driver exited with {result.returncode}", file=sys.stderr)
        return 1
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    if len(answers) != len(requests):
        print(f"driver answered {len(answers)} of {len(requests)} requests", file=sys.stderr)
        return 1

    mismatches = []
    accepted = {"ts": 0, "float": 0}
    for (kind, value), got in zip(requests, answers):
        want = py_timestamp(value) if kind == "ts" else py_float(value)
        if want is not None:
            accepted[kind] += 1
        if got != want:
            mismatches.append((kind, value, got, want))
    n_ts = sum(1 for r in requests if r[0] == "ts")
    print(f"python_diff: {n_ts} timestamps ({accepted['ts']} valid for Python), "
          f"{len(requests) - n_ts} float() inputs ({accepted['float']} valid), {len(mismatches)} differences")
    for kind, value, got, want in mismatches[:30]:
        print(f"  {kind} {value!r}: daemon {got!r}, python {want!r}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
