#!/usr/bin/env python3
"""Check the themed question lists in fixtures/words/*.txt.

Why: the lists are written by hand, and a quiz answer must be a real noun
that the game's dictionary also accepts. This script keeps the lists
honest: every word must be in crates/quiz-dictionary/words/hunspell-ko-nouns.txt
(the nouns extracted from hunspell-dict-ko by import-hunspell-nouns.py).
That is stricter than "some ko.dic stem": it drops words that ko.dic knows
only as other parts of speech or not at all, and the check needs no
hunspell install.

File format: UTF-8, one word per line, `#` starts a comment, blank lines
are ignored, and the first line is a `#` comment naming the theme.

Reported problems (exit status 1 if any):
  * words not in the noun list,
  * duplicates, within a file or across files (with file:line of both),
  * lines that are not NFC,
  * words that are not 2 to 4 complete Hangul syllables (U+AC00..U+D7A3),
  * a first line that is not a `#` comment.

With --fix, lines whose word is not in the noun list are removed first
(and printed); the remaining checks then run as usual.
"""

import argparse
import sys
import unicodedata
from pathlib import Path

WORDS_DIR = Path(__file__).resolve().parent.parent / "fixtures/words"
NOUNS = WORDS_DIR.parent.parent / "crates/quiz-dictionary/words/hunspell-ko-nouns.txt"


def word_of(line):
    return line.split("#", 1)[0].strip()


def is_question_word(word):
    return 2 <= len(word) <= 4 and all("\uac00" <= ch <= "\ud7a3" for ch in word)


def load_nouns(path):
    with open(path, encoding="utf-8") as f:
        return {w for w in (word_of(line) for line in f) if w}


def fix_file(path, nouns):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for number, line in enumerate(lines, 1):
        word = word_of(line)
        if word and unicodedata.normalize("NFC", word) not in nouns:
            print(f"removed {path.name}:{number}: {word}")
        else:
            kept.append(line)
    if len(kept) != len(lines):
        path.write_text("".join(kept), encoding="utf-8")


def check(paths, nouns):
    problems, first_seen, counts = [], {}, {}
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].startswith("#"):
            problems.append(f"{path.name}:1: first line must be a '#' comment naming the theme")
        counts[path.name] = 0
        for number, line in enumerate(lines, 1):
            where = f"{path.name}:{number}"
            if line != unicodedata.normalize("NFC", line):
                problems.append(f"{where}: not NFC: {line!r}")
            word = unicodedata.normalize("NFC", word_of(line))
            if not word:
                continue
            counts[path.name] += 1
            if not is_question_word(word):
                problems.append(f"{where}: not 2-4 complete Hangul syllables: {word!r}")
            if word not in nouns:
                problems.append(f"{where}: not in the hunspell noun list: {word}")
            if word in first_seen:
                problems.append(f"{where}: duplicate of {first_seen[word]}: {word}")
            else:
                first_seen[word] = where
    return problems, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fix", action="store_true", help="remove words not in the noun list")
    ap.add_argument("--nouns", type=Path, default=NOUNS)
    ap.add_argument("--dir", type=Path, default=WORDS_DIR)
    args = ap.parse_args()

    nouns = load_nouns(args.nouns)
    paths = sorted(args.dir.glob("*.txt"))
    if not paths:
        sys.exit(f"no word lists found in {args.dir}")
    if args.fix:
        for path in paths:
            fix_file(path, nouns)

    problems, counts = check(paths, nouns)
    for name, count in counts.items():
        print(f"{name}: {count}")
    print(f"total: {sum(counts.values())}")
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
