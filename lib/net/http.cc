#include "http.h"

#include "util/format.h"

namespace net {
namespace {

// tchar [RFC 9110 §5.6.2]: what a method or a field name is made of.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    for (const char* p = "!#$%&'*+-.^_`|~"; *p; p++)
        if (c == *p) return true;
    return false;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(const char* a, usize n, const char* lit) {
    usize i = 0;
    for (; i < n && lit[i]; i++)
        if (lower(a[i]) != lit[i]) return false;
    return i == n && lit[i] == '\0';
}

bool equals(const char* a, usize n, const char* lit) {
    usize i = 0;
    for (; i < n && lit[i]; i++)
        if (a[i] != lit[i]) return false;
    return i == n && lit[i] == '\0';
}

// Does a comma-separated field value hold `token` (case-insensitive)?
bool has_token(const char* v, usize n, const char* token) {
    usize i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        usize start = i;
        while (i < n && v[i] != ',') i++;
        usize end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
        if (end > start && equals_nocase(v + start, end - start, token)) return true;
    }
    return false;
}

}  // namespace

HttpParse parse_http_request(const char* data, usize len, HttpRequest& out) {
    out = HttpRequest{};
    // Find the end of the head (an empty line) within the limit first: a
    // head is parsed only once whole.
    usize limit = len < HttpRequest::kMaxHead ? len : HttpRequest::kMaxHead;
    usize end = 0;
    for (usize i = 0; i + 3 < limit; i++) {
        if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n') {
            end = i + 4;
            break;
        }
    }
    if (end == 0) return len >= HttpRequest::kMaxHead ? HttpParse::TooLarge : HttpParse::Incomplete;
    for (usize i = 0; i < end; i++) {
        auto c = static_cast<unsigned char>(data[i]);
        // ASCII only, no NUL, and a CR only before an LF (no bare CR, no bare LF).
        if (c == 0 || c >= 0x80) return HttpParse::Bad;
        if (c == '\r' && data[i + 1] != '\n') return HttpParse::Bad;
        if (c == '\n' && (i == 0 || data[i - 1] != '\r')) return HttpParse::Bad;
    }
    // The request line [RFC 9112 §3]: method SP request-target SP HTTP-version.
    usize i = 0;
    usize m0 = i;
    while (i < end && is_tchar(data[i])) i++;
    usize m1 = i;
    if (m1 == m0 || data[i] != ' ') return HttpParse::Bad;
    usize t0 = ++i;
    while (i < end && data[i] != ' ' && data[i] != '\r') i++;
    usize t1 = i;
    if (t1 == t0 || data[i] != ' ') return HttpParse::Bad;
    usize v0 = ++i;
    while (i < end && data[i] != '\r') i++;
    usize v1 = i;
    i += 2;  // CRLF
    if (v1 - v0 != 8 || !equals(data + v0, 5, "HTTP/") || data[v0 + 6] != '.' || data[v0 + 5] < '0' ||
        data[v0 + 5] > '9' || data[v0 + 7] < '0' || data[v0 + 7] > '9')
        return HttpParse::Bad;
    if (data[v0 + 5] != '1' || data[v0 + 7] > '1') return HttpParse::VersionNotSupported;
    out.minor = static_cast<u8>(data[v0 + 7] - '0');
    // origin-form only [RFC 9112 §3.2.1]: an absolute path (and query).
    if (data[t0] != '/') return HttpParse::Bad;
    if (t1 - t0 >= HttpRequest::kMaxTarget) return HttpParse::TooLarge;
    for (usize k = t0; k < t1; k++) {
        if (data[k] <= ' ' || data[k] == 0x7f) return HttpParse::Bad;
        out.target[k - t0] = data[k];
    }
    bool get = equals(data + m0, m1 - m0, "GET"), head = equals(data + m0, m1 - m0, "HEAD");
    // Header fields [RFC 9112 §5]: name ":" OWS value OWS CRLF.
    bool host = false, close = false, keep_alive = false;
    while (i + 2 <= end && !(data[i] == '\r' && data[i + 1] == '\n')) {
        usize n0 = i;
        while (i < end && is_tchar(data[i])) i++;
        usize n1 = i;
        // No whitespace between a field name and its colon [RFC 9112 §5.1].
        if (n1 == n0 || data[i] != ':') return HttpParse::Bad;
        i++;
        while (data[i] == ' ' || data[i] == '\t') i++;
        usize f0 = i;
        while (data[i] != '\r') i++;
        usize f1 = i;
        while (f1 > f0 && (data[f1 - 1] == ' ' || data[f1 - 1] == '\t')) f1--;
        i += 2;
        const char* name = data + n0;
        usize nl = n1 - n0;
        if (equals_nocase(name, nl, "host")) {
            if (host) return HttpParse::Bad;  // more than one Host [RFC 9112 §3.2]
            host = true;
        } else if (equals_nocase(name, nl, "connection")) {
            close |= has_token(data + f0, f1 - f0, "close");
            keep_alive |= has_token(data + f0, f1 - f0, "keep-alive");
        } else if (equals_nocase(name, nl, "transfer-encoding")) {
            return HttpParse::Bad;  // a body we would not read
        } else if (equals_nocase(name, nl, "content-length")) {
            if (f1 == f0) return HttpParse::Bad;
            for (usize k = f0; k < f1; k++)
                if (data[k] != '0') return HttpParse::Bad;  // a body (or not a number)
        }
    }
    if (out.minor == 1 && !host) return HttpParse::Bad;
    if (!get && !head) return HttpParse::MethodNotAllowed;
    out.head_only = head;
    out.keep_alive = out.minor == 1 ? !close : keep_alive && !close;
    out.head_bytes = end;
    return HttpParse::Ok;
}

u16 http_status_for(HttpParse result) {
    switch (result) {
        case HttpParse::Bad: return 400;
        case HttpParse::TooLarge: return 431;
        case HttpParse::MethodNotAllowed: return 405;
        case HttpParse::VersionNotSupported: return 505;
        case HttpParse::Incomplete:
        case HttpParse::Ok: break;
    }
    return 0;
}

const char* http_reason(u16 status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

usize http_response_head(char* out, usize cap, u16 status, const char* content_type, usize content_length,
                         bool keep_alive) {
    // 405 must say what is allowed [RFC 9110 §15.5.6].
    usize n = format(out, cap,
                     "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %llu\r\nCache-Control: no-store\r\n"
                     "Connection: %s\r\n%s\r\n",
                     status, http_reason(status), content_type, static_cast<unsigned long long>(content_length),
                     keep_alive ? "keep-alive" : "close", status == 405 ? "Allow: GET, HEAD\r\n" : "");
    return n < cap ? n : 0;
}

}  // namespace net
