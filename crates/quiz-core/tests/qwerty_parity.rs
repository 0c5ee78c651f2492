//! `qwerty_to_hangul` against es-hangul's `convertQwertyToHangul`, on a few thousand generated
//! inputs: mostly Latin letters, with spaces, digits, punctuation and Hangul mixed in, and Hangul
//! words (random syllables and the shipped word lists) typed back as keys.
//!
//! es-hangul is installed once into `target/es-hangul` with npm and run with node on
//! `tests/es-hangul/qwerty.mjs`; without node and npm this test fails, it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use quiz_core::builtin;
use quiz_core::hangul::is_syllable;
use quiz_core::keyboard::{latin_answer, qwerty_to_hangul};

/// The es-hangul release compared against (also the one `scripts/chosung-vs-es-hangul` uses).
const ES_HANGUL_VERSION: &str = "2.4.0";

const HOW_TO_INSTALL: &str = "install Node.js and npm (Debian/Ubuntu: `apt-get install nodejs \
                              npm`; scripts/test installs them on a fresh machine)";

/// The keys of the 19 initials, 21 vowels and 27 finals, in Unicode's order.
const INITIAL_KEYS: [&str; 19] = [
    "r", "R", "s", "e", "E", "f", "a", "q", "Q", "t", "T", "d", "w", "W", "c", "z", "x", "v", "g",
];
const VOWEL_KEYS: [&str; 21] = [
    "k", "o", "i", "O", "j", "p", "u", "P", "h", "hk", "ho", "hl", "y", "n", "nj", "np", "nl", "b",
    "m", "ml", "l",
];
const FINAL_KEYS: [&str; 27] = [
    "r", "R", "rt", "s", "sw", "sg", "e", "f", "fr", "fa", "fq", "ft", "fx", "fv", "fg", "a", "q",
    "qt", "t", "T", "d", "w", "c", "z", "x", "v", "g",
];

/// Inputs worth keeping whatever the generator does.
const EDGE_CASES: [&str; 12] = [
    "", " ", "rkddkwl", "rkd dkwl", "hkr", "rkhkr", "ㅘㄱ", "가r", "ㄳ", "a😀b", "QWERTOP", "\n\t",
];

#[test]
fn qwerty_to_hangul_matches_es_hangul() {
    let inputs = generate();
    let answers = inputs.iter().filter(|i| latin_answer(i).is_some()).count();
    assert!(
        answers >= 1_500,
        "only {answers} of {} inputs are Latin-mode answers; the game's path is barely tested",
        inputs.len()
    );

    let started = Instant::now();
    let expected = es_hangul(&inputs);
    let mut mismatches = Vec::new();
    let mut throws = 0;
    for (input, expected) in inputs.iter().zip(&expected) {
        let ours = qwerty_to_hangul(input);
        match expected {
            serde_json::Value::String(theirs) if *theirs == ours => {}
            // es-hangul throws on a lone compound vowel (no consonant before it) followed by
            // a consonant that can be a final; `qwerty_to_hangul` keeps the two apart.
            serde_json::Value::Object(error)
                if error
                    .get("error")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|e| e.starts_with("Invalid hangul Characters"))
                    && ours.chars().any(|c| "ㅘㅙㅚㅝㅞㅟㅢ".contains(c)) =>
            {
                throws += 1;
            }
            _ => mismatches.push(format!(
                "input {input:?}: es-hangul {expected}, quiz-core {ours:?}"
            )),
        }
    }
    println!(
        "{} inputs ({answers} Latin-mode answers, {throws} where es-hangul throws) checked in {:?}",
        inputs.len(),
        started.elapsed()
    );
    assert!(
        mismatches.is_empty(),
        "qwerty_to_hangul differs from es-hangul {ES_HANGUL_VERSION} on {} of {} inputs; the first \
         ones:\n{}",
        mismatches.len(),
        inputs.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

/// es-hangul's output for each input: a string, or `{"error": message}` where it throws.
fn es_hangul(inputs: &[String]) -> Vec<serde_json::Value> {
    let prefix = install_es_hangul();
    let inputs_file = prefix.join(format!("qwerty-inputs-{}.json", std::process::id()));
    std::fs::write(&inputs_file, serde_json::to_string(inputs).unwrap())
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", inputs_file.display()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/es-hangul/qwerty.mjs");
    let stdout = run(Command::new("node")
        .arg(&script)
        .arg(&prefix)
        .arg(&inputs_file));
    let outputs: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "{} printed something else than JSON ({err})",
            script.display()
        )
    });
    assert_eq!(outputs.len(), inputs.len(), "one output per input");
    let _ = std::fs::remove_file(&inputs_file);
    outputs
}

/// Installs the pinned es-hangul into `target/es-hangul` unless it is there; returns the folder.
fn install_es_hangul() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A relative CARGO_TARGET_DIR is taken from the workspace root, where cargo usually runs.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    let prefix = target.join("es-hangul");
    let manifest = prefix.join("node_modules/es-hangul/package.json");
    let installed = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|package| package["version"] == ES_HANGUL_VERSION);
    if !installed {
        run(Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .arg(format!("es-hangul@{ES_HANGUL_VERSION}"))
            .args(["--no-audit", "--no-fund", "--silent"])
            .env("npm_config_update_notifier", "false"));
    }
    prefix
}

/// Runs `command` and returns its stdout; panics, saying what to install, when it cannot run or
/// fails.
fn run(command: &mut Command) -> String {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = match command.stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
            "this test runs es-hangul with `{program}`, which is not installed: {HOW_TO_INSTALL}"
        ),
        Err(err) => panic!("cannot run {command:?}: {err}"),
    };
    assert!(
        output.status.success(),
        "{command:?} failed ({}); this test needs Node.js, npm and the npm registry ({}):\n{}\n{}",
        output.status,
        HOW_TO_INSTALL,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The inputs, the same on every run.
fn generate() -> Vec<String> {
    let mut rng = SplitMix64(0x5EED_C0DE);
    let mut inputs: Vec<String> = EDGE_CASES.iter().map(|s| s.to_string()).collect();
    for _ in 0..3_000 {
        let len = 1 + rng.below(12);
        inputs.push((0..len).map(|_| random_char(&mut rng)).collect());
    }
    for _ in 0..1_000 {
        let syllables: String = (0..1 + rng.below(4))
            .map(|_| {
                let (initial, vowel) = (rng.below(19), rng.below(21));
                let batchim = if rng.below(2) == 0 {
                    0
                } else {
                    1 + rng.below(27)
                };
                char::from_u32(0xAC00 + ((initial * 21 + vowel) * 28 + batchim) as u32).unwrap()
            })
            .collect();
        inputs.push(typed(&syllables, &mut rng));
    }
    let words = builtin::word_bank();
    let words = words.answers();
    for _ in 0..1_000 {
        let word = &words[rng.below(words.len())];
        inputs.push(typed(word, &mut rng));
    }
    inputs
}

/// Mostly ASCII letters of either case, sometimes a space, digit, punctuation, Hangul syllable or
/// jamo, and rarely anything else.
fn random_char(rng: &mut SplitMix64) -> char {
    let pick = |rng: &mut SplitMix64, chars: &str| {
        let chars: Vec<char> = chars.chars().collect();
        chars[rng.below(chars.len())]
    };
    let in_range = |rng: &mut SplitMix64, first: u32, last: u32| {
        char::from_u32(first + rng.below((last - first + 1) as usize) as u32).unwrap()
    };
    match rng.below(100) {
        0..=49 => in_range(rng, 'a' as u32, 'z' as u32),
        50..=79 => in_range(rng, 'A' as u32, 'Z' as u32),
        80..=84 => ' ',
        85..=88 => in_range(rng, '0' as u32, '9' as u32),
        89..=92 => pick(rng, "!?.,-~^;:'\"()[]@#"),
        93..=95 => in_range(rng, 0xAC00, 0xD7A3),
        96..=98 => in_range(rng, 0x3131, 0x3163),
        _ => pick(rng, "\t\n\u{3000}\u{3164}\u{1100}\u{1161}éß😀한"),
    }
}

/// The keys that type `word` on a 2-set keyboard, sometimes with a space between syllables or
/// a capital where Shift changes nothing, as players type.
fn typed(word: &str, rng: &mut SplitMix64) -> String {
    let mut keys = String::new();
    for (i, c) in word.chars().enumerate() {
        if i > 0 && rng.below(10) == 0 {
            keys.push(' ');
        }
        if !is_syllable(c) {
            keys.push(c);
            continue;
        }
        let index = (c as u32 - 0xAC00) as usize;
        keys += INITIAL_KEYS[index / (21 * 28)];
        keys += VOWEL_KEYS[index / 28 % 21];
        if index % 28 > 0 {
            keys += FINAL_KEYS[index % 28 - 1];
        }
    }
    if rng.below(10) == 0 {
        keys = keys
            .chars()
            .map(|c| {
                if "qwertop".contains(c) {
                    c
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
    }
    keys
}

/// SplitMix64: small, fast and good enough to spread test inputs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (the slight modulo bias does not matter here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
