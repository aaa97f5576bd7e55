// Tokenizer for one manifest line (internal to lib/manifest).
//
// A line has already had its line ending removed and been checked for
// control characters by the parser. Tokens:
//   Word    a run of [A-Za-z0-9_.:|-]  (names, numbers, PCI addresses, rights)
//   String  "..." with escapes \" and \\ (text excludes the quotes)
//   Equals  =      Open  [      Close  ]
//   End     end of line, or a '#' comment outside a string
//   Bad     a lexical error: see BadReason
// Whitespace (space, tab) separates tokens and is otherwise ignored.
#pragma once

#include "util/types.h"

namespace manifest::detail {

enum class TokenKind : u8 { End, Word, String, Equals, Open, Close, Bad };

enum class BadReason : u8 {
    None,
    UnexpectedChar,      // `text` points at the character
    UnterminatedString,  // `column` is the opening quote
    BadEscape,           // `text` points at the character after the backslash
};

struct Token {
    TokenKind kind = TokenKind::End;
    BadReason bad = BadReason::None;
    const char* text = nullptr;  // Word/String: the characters; Bad: see BadReason
    u32 length = 0;
    u32 column = 0;  // 1-based; for String the opening quote, for Bad the offending byte
};

inline bool is_word_char(u8 c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':' || c == '|';
}

class LineLexer {
public:
    LineLexer(const char* line, u32 length) : m_line(line), m_length(length) {}

    Token next();

    // Column just past the last non-blank, non-comment character: where a
    // missing token "should have been".
    u32 end_column() const { return m_end_column; }

private:
    const char* m_line;
    u32 m_length;
    u32 m_pos = 0;
    u32 m_end_column = 1;
};

}  // namespace manifest::detail
