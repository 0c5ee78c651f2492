//! The chat-like Korean text both the criterion bench and the es-hangul comparison measure.

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
