//! The chat-like Korean text both the criterion bench and the es-hangul comparison measure, and
//! the plain `chars()` loop that `chosung` is measured against.
//!
//! Both corpora keep clear of the whitespace on which quiz-core and es-hangul differ by design
//! (U+0085, U+FEFF, U+2000, U+2001): their only whitespace is the ASCII space and, between the
//! text's lines, the newline.

use quiz_core::hangul::INITIALS;

/// About 64 KiB of chat: Korean sentences with spaces, punctuation, laughter, Latin and emoji.
pub fn chat_text() -> String {
    let lines = [
        "안녕하세요 오늘 퀴즈 같이 해요!",
        "ㅋㅋㅋㅋ 그거 아니야",
        "강아지? 고양이?",
        "정답은 바로 자동차 입니다 🚗",
        "hint 좀 주세요 ㅠㅠ",
        "지금 몇 라운드야",
        "와 대박 빨리 맞췄다 👏👏",
        "다음 문제 기다리는 중...",
    ];
    let mut text = String::new();
    while text.len() < 64 * 1024 {
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// How many lines [`chat_lines`] makes.
pub const CHAT_LINE_COUNT: usize = 200_000;
/// The shortest and longest line [`chat_lines`] makes, in bytes.
pub const CHAT_LINE_BYTES: (usize, usize) = (5, 60);

// What chat lines are made of, each list separated by spaces: Korean words, punctuation that
// may follow them, laughter and other consonant-only words, Latin, emoji.
const WORDS: &str = "\
    안녕 안녕하세요 오늘 퀴즈 같이 해요 그거 아니야 정답 정답은 바로 \
    자동차 입니다 강아지 고양이 지금 몇 라운드 와 대박 빨리 맞췄다 다음 \
    문제 기다리는 중 힌트 좀 주세요 진짜 너무 어렵다 쉽다 나 너 우리 \
    이거 뭐야 모르겠어 알겠다 잠깐만 사과 바나나 학교 선생님 친구 사랑 \
    게임 시작 끝 점수 이겼다 졌다 한번 더 하자 좋아 싫어 배고파 밥 \
    먹었어 떡볶이 치킨 짜장면 빵 까치 쌀 컴퓨터 휴대폰 날씨 덥다 춥다 \
    내일 어제 주말 여기 저기 왜 어떻게 그래 응 네 아니 맞아 틀렸어 \
    비행기 도서관 축구";
const PUNCTUATION: &str = "? ! ~ ... . , ?? !!";
const LAUGHTER: &str = "ㅋㅋ ㅋㅋㅋ ㅋㅋㅋㅋㅋ ㅎㅎ ㅠㅠ ㅜㅜ ㄱㄱ ㅇㅇ ㄴㄴ ^^";
const LATIN: &str = "ok lol gg hint LOL nice wow 3 100 TV";
const EMOJI: &str = "😂 👍 🔥 🐶 😭 🎉 ❤️ 🚗";

/// [`CHAT_LINE_COUNT`] chat lines of 5 to 60 bytes (31 on average), the same on every run:
/// Korean words (some with punctuation), laughter and other consonant-only words, a little Latin
/// and a few emoji, mostly separated by spaces.
pub fn chat_lines() -> Vec<String> {
    let (shortest, longest) = CHAT_LINE_BYTES;
    let mut random = SplitMix64(0x5EED_C405_0000_0001);
    let [words, punctuation, laughter, latin, emoji] = [WORDS, PUNCTUATION, LAUGHTER, LATIN, EMOJI]
        .map(|list| list.split(' ').collect::<Vec<_>>());
    let mut lines = Vec::with_capacity(CHAT_LINE_COUNT);
    while lines.len() < CHAT_LINE_COUNT {
        let target = random.in_range(shortest, longest);
        let mut line = String::new();
        // Add words while they fit; three that do not end the line.
        let mut misses = 0;
        while misses < 3 {
            let mut word = String::new();
            match random.in_range(0, 99) {
                0..=77 => {
                    word.push_str(random.pick(&words));
                    if random.in_range(0, 99) < 15 {
                        word.push_str(random.pick(&punctuation));
                    }
                }
                78..=87 => word.push_str(random.pick(&laughter)),
                88..=94 => word.push_str(random.pick(&latin)),
                _ => word.push_str(random.pick(&emoji)),
            }
            let space = !line.is_empty() && random.in_range(0, 99) < 90;
            if line.len() + usize::from(space) + word.len() > target {
                misses += 1;
                continue;
            }
            if space {
                line.push(' ');
            }
            line.push_str(&word);
        }
        if line.len() >= shortest {
            lines.push(line);
        }
    }
    lines
}

/// SplitMix64: a small seeded generator, so the corpus needs no dependency and never changes.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn in_range(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low + 1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.in_range(0, items.len() - 1)]
    }
}

/// The reference `chosung` is measured against: the plain `chars()` loop with the same output,
/// pushing onto a `String` sized for the input.
pub fn plain_chars_loop(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = u32::from(c);
        if ('가'..='힣').contains(&c) {
            out.push(INITIALS[((code - 0xAC00) / 588) as usize]);
        } else if ('\u{1100}'..='\u{1112}').contains(&c) {
            out.push(INITIALS[(code - 0x1100) as usize]);
        } else if ('ㄱ'..='ㅎ').contains(&c) || c.is_whitespace() {
            out.push(c);
        }
    }
    out
}
