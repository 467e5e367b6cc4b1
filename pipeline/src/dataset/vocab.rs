//! The few words the warehouse stores for a value that exports spell in many ways: a
//! touchpoint's channel and kind, and a subscription event.
//!
//! Each vocabulary is a table of `(word, canonical)` rows and one lookup, so teaching
//! Conveyor a new spelling is one line in a table (and one word in this list, which a test
//! keeps in step with the tables). A value matches a word when the two are equal after
//! [`fold`]: trimmed, full-width ASCII and the ideographic space turned into ASCII,
//! half-width katakana turned into full-width (`ﾒｰﾙ` → `メール`, `ﾀﾞｲﾚｸﾄ` → `ダイレクト`),
//! ASCII lower-cased, and spaces, `-`, `_` and `・` dropped. So `E-Mail`, `ＥＭＡＩＬ` and
//! `e mail` all match `email`. The match is on the whole value, never a part of it:
//! `一時停止` is `pause` even though it ends in `停止` (`cancel`).
//!
//! The words, written as they are matched (after [`fold`]):
//!
//! - **Channels** ([`channel`], canonical words [`CHANNELS`]). An unknown channel is kept as
//!   given (trimmed), never rejected: a shop's own channel names are data too.
//!   - `email`: `email`, `mail`, `メール`, `eメール`, `メルマガ`, `メールマガジン`
//!   - `line`: `line`, `ライン`
//!   - `dm` (postal direct mail): `dm`, `ダイレクトメール`, `directmail`, `はがき`, `ハガキ`,
//!     `葉書`
//!   - `call`: `call`, `電話`, `コール`, `テレマ`, `テレマーケティング`, `アウトバウンド`,
//!     `phone`, `tel`
//!   - `enclosure` (a leaflet in the parcel): `enclosure`, `同梱物`, `同梱`, `チラシ同梱`,
//!     `同梱チラシ`
//!   - `sms`: `sms`, `ショートメッセージ`
//!   - `push`: `push`, `プッシュ通知`, `プッシュ`, `push通知`
//! - **Touch kinds** ([`touch_kind`], canonical words [`TOUCH_KINDS`]), the two halves of
//!   the 1-3-2 rule. An unknown kind is `None`: the row is quarantined.
//!   - `approach`: `approach`, `アプローチ`, `接触`, `フォロー`, `フォローアップ`
//!   - `offer`: `offer`, `オファー`, `クーポン`, `coupon`, `特典`
//! - **Subscription events** ([`subscription_event`], canonical words
//!   [`SUBSCRIPTION_EVENTS`]). An unknown event is `None`: the row is quarantined.
//!   - `start`: `start`, `started`, `開始`, `申込`, `申込み`, `申し込み`, `新規`
//!   - `skip`: `skip`, `skipped`, `スキップ`
//!   - `pause`: `pause`, `paused`, `休止`, `一時停止`, `一時休止`
//!   - `resume`: `resume`, `resumed`, `再開`
//!   - `cancel`: `cancel`, `cancelled`, `canceled`, `解約`, `キャンセル`, `停止`
//!
//! `dm` is postal direct mail, as in 通販 CRM, not a social-media direct message.
//!
//! Folding is hand-written rather than full Unicode NFKC (which would be a dependency for
//! two small tables): it covers the width forms Japanese exports put in such values. A
//! value already written as a word (`メール`, `解約`, `email`: nearly every row) is found
//! without folding a copy.

use std::borrow::Cow;

/// A vocabulary: each word (already folded) and the canonical word it stands for.
type Table = &'static [(&'static str, &'static str)];

/// The channels a contact can go out through.
pub const CHANNELS: &[&str] = &["email", "line", "dm", "call", "enclosure", "sms", "push"];

const CHANNEL_WORDS: Table = &[
    ("email", "email"),
    ("mail", "email"),
    ("メール", "email"),
    ("eメール", "email"),
    ("メルマガ", "email"),
    ("メールマガジン", "email"),
    ("line", "line"),
    ("ライン", "line"),
    ("dm", "dm"),
    ("ダイレクトメール", "dm"),
    ("directmail", "dm"),
    ("はがき", "dm"),
    ("ハガキ", "dm"),
    ("葉書", "dm"),
    ("call", "call"),
    ("電話", "call"),
    ("コール", "call"),
    ("テレマ", "call"),
    ("テレマーケティング", "call"),
    ("アウトバウンド", "call"),
    ("phone", "call"),
    ("tel", "call"),
    ("enclosure", "enclosure"),
    ("同梱物", "enclosure"),
    ("同梱", "enclosure"),
    ("チラシ同梱", "enclosure"),
    ("同梱チラシ", "enclosure"),
    ("sms", "sms"),
    ("ショートメッセージ", "sms"),
    ("push", "push"),
    ("プッシュ通知", "push"),
    ("プッシュ", "push"),
    ("push通知", "push"),
];

/// The kinds of touchpoint: an approach (a contact) or an offer.
pub const TOUCH_KINDS: &[&str] = &["approach", "offer"];

const TOUCH_KIND_WORDS: Table = &[
    ("approach", "approach"),
    ("アプローチ", "approach"),
    ("接触", "approach"),
    ("フォロー", "approach"),
    ("フォローアップ", "approach"),
    ("offer", "offer"),
    ("オファー", "offer"),
    ("クーポン", "offer"),
    ("coupon", "offer"),
    ("特典", "offer"),
];

/// The events in a subscription's life.
pub const SUBSCRIPTION_EVENTS: &[&str] = &["start", "skip", "pause", "resume", "cancel"];

const SUBSCRIPTION_EVENT_WORDS: Table = &[
    ("start", "start"),
    ("started", "start"),
    ("開始", "start"),
    ("申込", "start"),
    ("申込み", "start"),
    ("申し込み", "start"),
    ("新規", "start"),
    ("skip", "skip"),
    ("skipped", "skip"),
    ("スキップ", "skip"),
    ("pause", "pause"),
    ("paused", "pause"),
    ("休止", "pause"),
    ("一時停止", "pause"),
    ("一時休止", "pause"),
    ("resume", "resume"),
    ("resumed", "resume"),
    ("再開", "resume"),
    ("cancel", "cancel"),
    ("cancelled", "cancel"),
    ("canceled", "cancel"),
    ("解約", "cancel"),
    ("キャンセル", "cancel"),
    ("停止", "cancel"),
];

/// The channel a contact went out through: one of [`CHANNELS`] when the value is a known
/// word for it, otherwise the value as given (trimmed).
pub fn channel(text: &str) -> Cow<'_, str> {
    match lookup(CHANNEL_WORDS, text) {
        Some(canonical) => Cow::Borrowed(canonical),
        None => Cow::Borrowed(text.trim()),
    }
}

/// `approach` or `offer`, or `None` for a value that is neither.
pub fn touch_kind(text: &str) -> Option<&'static str> {
    lookup(TOUCH_KIND_WORDS, text)
}

/// One of [`SUBSCRIPTION_EVENTS`], or `None` for a value that is none of them.
pub fn subscription_event(text: &str) -> Option<&'static str> {
    lookup(SUBSCRIPTION_EVENT_WORDS, text)
}

/// The canonical word for `text`. The words are written folded, so a value already in
/// that form (`メール`, `解約`, `email`: nearly every row) is found without folding a copy.
fn lookup(table: Table, text: &str) -> Option<&'static str> {
    let find = |key: &str| {
        table
            .iter()
            .find(|(word, _)| *word == key)
            .map(|&(_, canonical)| canonical)
    };
    let text = text.trim();
    find(text).or_else(|| match fold(text) {
        Cow::Owned(key) => find(&key),
        Cow::Borrowed(_) => None,
    })
}

/// Characters a word is matched without: spaces and the separators people put between
/// the parts of a word (`e-mail`, `ダイレクト・メール`).
fn is_dropped(c: char) -> bool {
    matches!(c, ' ' | '\t' | '-' | '_' | '・')
}

/// The form a value is matched in: trimmed, width-folded (full-width ASCII → ASCII,
/// `　` → space, half-width katakana → full-width with its voicing marks composed),
/// ASCII lower-cased, and without spaces, `-`, `_` and `・`. Borrows when nothing changes.
pub fn fold(text: &str) -> Cow<'_, str> {
    let t = text.trim();
    if t.is_ascii()
        && !t
            .bytes()
            .any(|b| b.is_ascii_uppercase() || is_dropped(b as char))
    {
        return Cow::Borrowed(t);
    }
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{FF61}'..='\u{FF9D}' => HALF_WIDTH_KANA[(c as u32 - 0xFF61) as usize],
            '\u{FF9E}' => '゛',
            '\u{FF9F}' => '゜',
            _ => c,
        };
        // A voicing mark after a kana: half-width (ﾀﾞ) or combining (NFD text, タ\u{3099}).
        let c = match chars.peek() {
            Some('\u{FF9E}' | '\u{3099}') => match voiced(c) {
                Some(v) => {
                    chars.next();
                    v
                }
                None => c,
            },
            Some('\u{FF9F}' | '\u{309A}') => match semi_voiced(c) {
                Some(v) => {
                    chars.next();
                    v
                }
                None => c,
            },
            _ => c,
        };
        if !is_dropped(c) {
            out.push(c.to_ascii_lowercase());
        }
    }
    Cow::Owned(out)
}

/// U+FF61 ｡ to U+FF9D ﾝ, in order, as full-width characters.
const HALF_WIDTH_KANA: [char; 61] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ',
    'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ',
    'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

/// ガ for カ and so on: in the katakana block the voiced kana follows its plain one.
fn voiced(c: char) -> Option<char> {
    match c {
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ'
        | 'ツ' | 'テ' | 'ト' | 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => {
            char::from_u32(c as u32 + 1)
        }
        'ウ' => Some('ヴ'),
        _ => None,
    }
}

/// パ for ハ and so on: the semi-voiced kana is two after its plain one.
fn semi_voiced(c: char) -> Option<char> {
    match c {
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: [(&str, Table, &[&str]); 3] = [
        ("channel", CHANNEL_WORDS, CHANNELS),
        ("touch kind", TOUCH_KIND_WORDS, TOUCH_KINDS),
        (
            "subscription event",
            SUBSCRIPTION_EVENT_WORDS,
            SUBSCRIPTION_EVENTS,
        ),
    ];

    #[test]
    fn channels_from_the_issue_and_their_variants() {
        for (text, expect) in [
            ("メール", "email"),
            ("Eメール", "email"),
            ("e-mail", "email"),
            ("E-Mail", "email"),
            ("email", "email"),
            ("EMAIL", "email"),
            ("mail", "email"),
            ("メルマガ", "email"),
            ("LINE", "line"),
            ("Line", "line"),
            ("ライン", "line"),
            ("DM", "dm"),
            ("ダイレクトメール", "dm"),
            ("ダイレクト・メール", "dm"),
            ("Direct Mail", "dm"),
            ("はがき", "dm"),
            ("ハガキ", "dm"),
            ("電話", "call"),
            ("コール", "call"),
            ("call", "call"),
            ("テレマ", "call"),
            ("アウトバウンド", "call"),
            ("同梱物", "enclosure"),
            ("同梱", "enclosure"),
            ("enclosure", "enclosure"),
            ("チラシ同梱", "enclosure"),
            ("sms", "sms"),
            ("SMS", "sms"),
            ("push", "push"),
            ("プッシュ通知", "push"),
            ("Push 通知", "push"),
        ] {
            assert_eq!(channel(text), expect, "{text:?}");
        }
    }

    #[test]
    fn channels_in_other_widths_and_with_spaces() {
        // Full-width ASCII, the ideographic space, half-width katakana.
        assert_eq!(channel("ＬＩＮＥ"), "line");
        assert_eq!(channel("Ｅメール"), "email");
        assert_eq!(channel("ｅ－ｍａｉｌ"), "email");
        assert_eq!(channel("　ＤＭ　"), "dm");
        assert_eq!(channel("ﾒｰﾙ"), "email");
        assert_eq!(channel("ﾗｲﾝ"), "line");
        // ﾀﾞ is タ + a half-width voicing mark: ダ.
        assert_eq!(channel("ﾀﾞｲﾚｸﾄﾒｰﾙ"), "dm");
        assert_eq!(channel("ﾒﾙﾏｶﾞ"), "email");
        // ﾌﾟ is フ + a half-width semi-voicing mark: プ.
        assert_eq!(channel("ﾌﾟｯｼｭ通知"), "push");
        // Decomposed (NFD) text: フ + combining semi-voicing mark.
        assert_eq!(channel("\u{30D5}\u{309A}ッシュ"), "push");
        assert_eq!(channel("  email\t"), "email");
    }

    #[test]
    fn an_unknown_channel_is_kept_as_given_but_trimmed() {
        assert_eq!(channel("Instagram"), "Instagram");
        assert_eq!(channel("  店頭 POP  "), "店頭 POP");
        assert_eq!(channel("ＬＩＮＥ広告"), "ＬＩＮＥ広告");
        assert_eq!(channel(""), "");
        // "メール" is a word; a longer value containing it is not.
        assert_eq!(channel("メール便"), "メール便");
        assert!(matches!(channel("Instagram"), Cow::Borrowed(_)));
    }

    #[test]
    fn touch_kinds() {
        for (text, expect) in [
            ("アプローチ", Some("approach")),
            ("approach", Some("approach")),
            ("Approach", Some("approach")),
            ("接触", Some("approach")),
            ("フォロー", Some("approach")),
            ("ｱﾌﾟﾛｰﾁ", Some("approach")),
            ("オファー", Some("offer")),
            ("offer", Some("offer")),
            ("ＯＦＦＥＲ", Some("offer")),
            ("クーポン", Some("offer")),
            ("特典", Some("offer")),
            (" ｵﾌｧｰ ", Some("offer")),
            ("その他", None),
            ("approaches", None),
            ("", None),
        ] {
            assert_eq!(touch_kind(text), expect, "{text:?}");
        }
    }

    #[test]
    fn subscription_events() {
        for (text, expect) in [
            ("開始", Some("start")),
            ("申込", Some("start")),
            ("申し込み", Some("start")),
            ("新規", Some("start")),
            ("start", Some("start")),
            ("スキップ", Some("skip")),
            ("ｽｷｯﾌﾟ", Some("skip")),
            ("skip", Some("skip")),
            ("休止", Some("pause")),
            ("一時停止", Some("pause")),
            ("pause", Some("pause")),
            ("再開", Some("resume")),
            ("Resume", Some("resume")),
            ("解約", Some("cancel")),
            ("キャンセル", Some("cancel")),
            ("ｷｬﾝｾﾙ", Some("cancel")),
            ("停止", Some("cancel")),
            ("cancel", Some("cancel")),
            ("Cancelled", Some("cancel")),
            ("canceled", Some("cancel")),
            ("退会", None),
            ("停止中", None),
            ("", None),
        ] {
            assert_eq!(subscription_event(text), expect, "{text:?}");
        }
    }

    #[test]
    fn fold_borrows_plain_ascii_and_composes_voicing_marks() {
        assert!(matches!(fold("email"), Cow::Borrowed("email")));
        assert!(matches!(fold("  sms "), Cow::Borrowed("sms")));
        assert_eq!(fold("E-Mail"), "email");
        assert_eq!(fold("ｶﾞｷﾞｸﾞｹﾞｺﾞ"), "ガギグゲゴ");
        assert_eq!(fold("ｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ"), "ザジズゼゾダヂヅデド");
        assert_eq!(fold("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟｳﾞ"), "バビブベボパピプペポヴ");
        // A mark on a kana that takes none stays a (full-width) mark.
        assert_eq!(fold("ｱﾞ"), "ア゛");
        assert_eq!(fold("ｦｧｨｩｪｫｬｭｮｯｰ"), "ヲァィゥェォャュョッー");
        assert_eq!(
            fold("ｱｲｳｴｵﾅﾆﾇﾈﾉﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ"),
            "アイウエオナニヌネノマミムメモヤユヨラリルレロワン"
        );
        // The long-vowel mark is part of a word, not a dash.
        assert_eq!(fold("メール"), "メール");
        assert_eq!(fold("ＡＢＣ＠１２３"), "abc@123");
    }

    #[test]
    fn every_word_is_reachable_once_and_names_a_canonical_word() {
        for (name, table, canonical) in TABLES {
            for (i, &(word, to)) in table.iter().enumerate() {
                assert_eq!(
                    fold(word),
                    word,
                    "{name} word {word:?} must be written folded"
                );
                assert!(canonical.contains(&to), "{name} {word:?} → {to:?}");
                assert!(
                    !table[..i].iter().any(|(w, _)| *w == word),
                    "{name} word {word:?} is listed twice"
                );
            }
            for &c in canonical {
                assert!(table.contains(&(c, c)), "{name} {c:?} must map to itself");
            }
        }
    }

    #[test]
    fn the_module_doc_lists_every_word() {
        // The doc's word lists, one item per canonical word, wrapped lines joined.
        let mut items: Vec<String> = Vec::new();
        let mut in_item = false;
        for line in include_str!("vocab.rs").lines() {
            let Some(line) = line.strip_prefix("//!") else {
                break;
            };
            let line = line.trim();
            if line.starts_with("- `") {
                items.push(line.to_string());
                in_item = true;
            } else if line.is_empty() || line.starts_with("- ") {
                in_item = false;
            } else if in_item && let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
        }
        for (name, table, _) in TABLES {
            for &(word, canonical) in table {
                let item = items
                    .iter()
                    .find(|i| i.starts_with(&format!("- `{canonical}`")))
                    .unwrap_or_else(|| panic!("no doc item for {name} {canonical:?}"));
                let words = item.split_once(':').expect("item lists its words").1;
                assert!(
                    words.contains(&format!("`{word}`")),
                    "{name} word {word:?} → {canonical:?} is not in the module doc"
                );
            }
        }
    }
}
