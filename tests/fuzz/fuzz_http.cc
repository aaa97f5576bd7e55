// The HTTP request-head parser (lib/net/http.h) on any bytes: no read
// outside the input (ASan), and a request it accepts is what it says —
// an origin-form target of printable ASCII, a head no longer than the
// input and the limit, ending in an empty line.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_support.h"
#include "net/http.h"

using fuzz_support::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    net::HttpRequest r;
    auto* text = reinterpret_cast<const char*>(data);
    net::HttpParse p = net::parse_http_request(text, size, r);
    if (p == net::HttpParse::Ok) {
        check(r.head_bytes >= 4 && r.head_bytes <= size && r.head_bytes <= net::HttpRequest::kMaxHead);
        check(std::memcmp(text + r.head_bytes - 4, "\r\n\r\n", 4) == 0);
        check(r.target[0] == '/');
        usize n = std::strlen(r.target);
        check(n < net::HttpRequest::kMaxTarget);
        for (usize i = 0; i < n; i++) check(r.target[i] > ' ' && r.target[i] < 0x7f);
        check(r.minor <= 1);
    }
    if (p == net::HttpParse::Incomplete) check(size < net::HttpRequest::kMaxHead);
    return 0;
}
