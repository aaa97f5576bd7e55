#include "boot/cmdline.h"

namespace cmdline {
namespace {

char g_text[1024];
usize g_len;

bool word_equals(const char* s, usize len, const char* word) {
    usize i = 0;
    for (; i < len && word[i]; i++)
        if (s[i] != word[i]) return false;
    return i == len && word[i] == '\0';
}

}  // namespace

void init(const char* text, usize len) {
    g_len = len < sizeof g_text - 1 ? len : sizeof g_text - 1;
    for (usize i = 0; i < g_len; i++) g_text[i] = text[i];
    g_text[g_len] = '\0';
}

const char* text() { return g_text; }

const char* get(const char* key, usize* out_len) {
    usize i = 0;
    while (i < g_len) {
        while (i < g_len && g_text[i] == ' ') i++;
        usize start = i;
        while (i < g_len && g_text[i] != ' ') i++;
        usize end = i, eq = start;
        while (eq < end && g_text[eq] != '=') eq++;
        if (word_equals(g_text + start, eq - start, key)) {
            const char* value = eq < end ? g_text + eq + 1 : g_text + end;
            *out_len = eq < end ? end - eq - 1 : 0;
            return value;
        }
    }
    return nullptr;
}

bool is(const char* key, const char* value) {
    usize len;
    const char* v = get(key, &len);
    return v && word_equals(v, len, value);
}

}  // namespace cmdline
