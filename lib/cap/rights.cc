#include "cap/rights.h"

namespace cap {

char* format_rights(Rights rights, char (&out)[kRightsStringSize]) {
    constexpr char kLetters[] = "rwmxcsSWiMdtR";
    static_assert(sizeof(kLetters) - 1 == 13, "one letter per defined right");
    static_assert(kRightsAll == (1u << (sizeof(kLetters) - 1)) - 1, "letters cover kRightsAll");
    usize i = 0;
    for (; i < sizeof(kLetters) - 1; i++) out[i] = (rights & (1u << i)) ? kLetters[i] : '-';
    if (!rights_valid(rights)) out[i++] = '?';
    out[i] = '\0';
    return out;
}

}  // namespace cap
