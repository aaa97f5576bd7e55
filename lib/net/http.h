// The little of HTTP/1.1 a health endpoint needs (RFC 9110 semantics, RFC
// 9112 message syntax): a request head parsed from the bytes a client
// sent, and a response head written. Used by the `httpd` program
// (user/apps/httpd), which answers GET /status.
//
// Nothing the client sends is trusted: the head must fit kMaxHead bytes
// (else 431), be ASCII with CRLF line ends, a request line of three parts
// and header fields of name ":" value; anything else is Bad (400). No
// request body is read: a request announcing one (Content-Length above 0,
// or any Transfer-Encoding) is Bad, so a body is never mistaken for the
// next request. HTTP/1.1 needs a Host field (RFC 9112 §3.2); HTTP/1.0 and
// 1.1 are spoken, other versions get 505.
//
// Freestanding and hosted: no allocation; the request keeps copies.
#pragma once

#include "util/types.h"

namespace net {

enum class HttpParse : u8 {
    Incomplete,           // the head has not ended yet: read more
    Ok,                   // `out` holds the request; its head took out.head_bytes
    Bad,                  // 400 Bad Request
    TooLarge,             // 431 Request Header Fields Too Large
    MethodNotAllowed,     // 405: a method other than GET or HEAD
    VersionNotSupported,  // 505
};

struct HttpRequest {
    static constexpr usize kMaxHead = 4096;
    static constexpr usize kMaxTarget = 256;
    bool head_only = false;        // HEAD: the response has no body
    u8 minor = 1;                  // HTTP/1.<minor>
    bool keep_alive = false;       // HTTP/1.1 unless "Connection: close"; 1.0 only with "keep-alive"
    usize head_bytes = 0;          // request line, fields and the empty line
    char target[kMaxTarget] = {};  // origin-form: "/status" (the query string kept)
};

// Parses the head at the start of `data` (`len` bytes received so far).
HttpParse parse_http_request(const char* data, usize len, HttpRequest& out);

// The status code a parse result answers with (0 for Incomplete and Ok).
u16 http_status_for(HttpParse result);
const char* http_reason(u16 status);

// Writes "HTTP/1.1 <status> <reason>", Content-Type, Content-Length,
// Connection and Cache-Control: no-store (a health check must not be
// cached), then the empty line. Returns the bytes written, or 0 when `cap`
// is too small.
usize http_response_head(char* out, usize cap, u16 status, const char* content_type, usize content_length,
                         bool keep_alive);

}  // namespace net
