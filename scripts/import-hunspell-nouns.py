#!/usr/bin/env python3
"""Extract the common nouns of the Korean hunspell dictionary into a word list.

Why: the game needs a large list of real Korean nouns to accept or reject a
player's guess. hunspell-dict-ko (Debian package `hunspell-ko`) is a freely
licensed dictionary whose ko.dic marks every stem with part-of-speech flags,
so its nouns can be pulled out mechanically and checked in as a data file.

How the noun flag was identified
--------------------------------
ko.aff declares `FLAG num` and compresses flag sets with `AF` aliases: a
ko.dic line `가격/10` means "the flags of the 10th AF line", here
`2,3,9,10,530,...`. The flag numbers are assigned in order by the upstream
generator (flags.py in hunspell-dict-ko): 1 onlyincompound, 2 substantive
(체언), 3/4 substantive ending in a consonant/vowel, 5 (vowel-final, not
나/너/저), 6 pronoun, 7 pronoun that takes -들, 8 pronoun 나/너/저, 9 noun
(명사), 10/11 noun ending in a consonant/vowel, 12 digit, 13 counter,
14 plural suffix -들, 15 forbidden, ... 530-629 particles (조사), 630 이다.
ko.aff itself confirms the numbering:
  * `ONLYINCOMPOUND 1` and `FORBIDDENWORD 15`;
  * `COMPOUNDRULE (9)(14)`: a noun followed by the plural suffix 들, and
    `(7)(14)` for pronouns; `(12)*(12)(13)`: digits followed by a counter;
  * the only ko.dic entry with 14 is the suffix 들 (flags 1,2,14);
  * every ko.dic stem with 9 also has 2 and 10 or 11 (가격: 2,3,9,10;
    나무: 2,4,9,11), while pronouns (그것: 2,3,6,7), numerals (셋: 2,3,28;
    삼 the numeral: 2,3,23) and conjugated forms (가결되어: 1,17) lack 9.
So the noun flag is 9. The flag 2 (substantive) is not enough on its own
because it also marks pronouns and numerals. The script checks the
directives above and stops if a future ko.aff numbers its flags
differently.

Output: NFC nouns made only of precomposed syllables (U+AC00..U+D7A3), two
or more syllables, minus forbidden words, deduplicated and sorted by code
point. Running it twice gives the same file. Standard library only.
"""

import argparse
import subprocess
import sys
import unicodedata
from pathlib import Path

NOUN_FLAG = 9
PLURAL_SUFFIX_FLAG = 14
FORBIDDEN_FLAG = 15
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "crates/quiz-dictionary/words/hunspell-ko-nouns.txt"


def read_aff(path):
    """Return (AF alias list, set of directive lines) from ko.aff."""
    aliases, directives = [], set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("AF "):
                aliases.append(line[3:])
            elif line.split(" ", 1)[0] in ("FLAG", "FORBIDDENWORD", "ONLYINCOMPOUND", "COMPOUNDRULE", "VERSION"):
                directives.add(line)
    # The first AF line is the count, the rest are aliases 1..n.
    table = [frozenset(int(x) for x in a.split(",")) for a in aliases[1:]]
    return table, directives


def read_dic(path, aliases):
    """Yield (NFC word, flag set) for every ko.dic entry."""
    with open(path, encoding="utf-8") as f:
        next(f)  # entry count
        for line in f:
            word, _, flags = line.rstrip("\n").partition("/")
            flagset = aliases[int(flags) - 1] if flags else frozenset()
            yield unicodedata.normalize("NFC", word), flagset


def is_hangul_word(word):
    return len(word) >= 2 and all("\uac00" <= ch <= "\ud7a3" for ch in word)


def package_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "hunspell-ko"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dic", nargs="?", default="/usr/share/hunspell/ko.dic")
    ap.add_argument("aff", nargs="?", default="/usr/share/hunspell/ko.aff")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = ap.parse_args()

    aliases, directives = read_aff(args.aff)
    expected = {"FLAG num", f"FORBIDDENWORD {FORBIDDEN_FLAG}", "ONLYINCOMPOUND 1",
                f"COMPOUNDRULE ({NOUN_FLAG})({PLURAL_SUFFIX_FLAG})"}
    if not expected <= directives:
        sys.exit(f"unexpected ko.aff layout, missing: {sorted(expected - directives)}")

    nouns, forbidden = set(), set()
    for word, flags in read_dic(args.dic, aliases):
        if FORBIDDEN_FLAG in flags:
            forbidden.add(word)
        elif NOUN_FLAG in flags and is_hangul_word(word):
            nouns.add(word)
    words = sorted(nouns - forbidden)

    upstream = next((d.split()[2] for d in directives if d.startswith("VERSION ")), "unknown")
    header = [
        f"# Korean nouns from hunspell-dict-ko {upstream}, as packaged by Debian "
        f"(hunspell-ko {package_version()}).",
        "# Upstream: https://github.com/spellcheck-ko/hunspell-dict-ko",
        "# License: MPL-1.1 or GPL-2+ or LGPL-2.1+ per Debian's copyright file;",
        "# the built ko.aff states GPL-3.0-or-later. See LICENSE.md in this directory.",
        f"# ko.dic stems with the noun flag ({NOUN_FLAG}), NFC, 2+ Hangul syllables, sorted.",
        "# Regenerate: python3 scripts/import-hunspell-nouns.py",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(header + words) + "\n")
    print(f"wrote {len(words)} nouns to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
