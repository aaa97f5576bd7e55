#include "manifest/lexer.h"

namespace manifest::detail {

Token LineLexer::next() {
    while (m_pos < m_length && (m_line[m_pos] == ' ' || m_line[m_pos] == '\t')) m_pos++;

    Token t;
    t.column = m_pos + 1;
    if (m_pos >= m_length || m_line[m_pos] == '#') {
        m_pos = m_length;  // a comment runs to the end of the line
        t.kind = TokenKind::End;
        t.column = m_end_column;
        return t;
    }

    const u32 start = m_pos;
    const u8 c = static_cast<u8>(m_line[m_pos]);
    t.text = m_line + start;
    if (c == '=' || c == '[' || c == ']') {
        t.kind = c == '=' ? TokenKind::Equals : c == '[' ? TokenKind::Open : TokenKind::Close;
        t.length = 1;
        m_pos++;
    } else if (c == '"') {
        m_pos++;
        t.text = m_line + m_pos;
        while (true) {
            if (m_pos >= m_length) {
                t.kind = TokenKind::Bad;
                t.bad = BadReason::UnterminatedString;
                t.text = m_line + start;
                t.length = 1;
                m_pos = m_length;  // nothing after it can be trusted
                return t;
            }
            const char s = m_line[m_pos];
            if (s == '"') break;
            if (s == '\\') {
                if (m_pos + 1 >= m_length) {  // a backslash cannot end a line
                    m_pos = m_length;
                    continue;
                }
                const char e = m_line[m_pos + 1];
                if (e != '"' && e != '\\') {
                    t.kind = TokenKind::Bad;
                    t.bad = BadReason::BadEscape;
                    t.text = m_line + m_pos + 1;
                    t.length = 1;
                    t.column = m_pos + 1;  // the backslash
                    m_pos = m_length;
                    return t;
                }
                m_pos += 2;
                continue;
            }
            m_pos++;
        }
        t.kind = TokenKind::String;
        t.length = m_pos - (start + 1);
        m_pos++;  // closing quote
    } else if (is_word_char(c)) {
        while (m_pos < m_length && is_word_char(static_cast<u8>(m_line[m_pos]))) m_pos++;
        t.kind = TokenKind::Word;
        t.length = m_pos - start;
    } else {
        t.kind = TokenKind::Bad;
        t.bad = BadReason::UnexpectedChar;
        t.length = 1;
        m_pos = m_length;
        return t;
    }
    m_end_column = m_pos + 1;
    return t;
}

}  // namespace manifest::detail
