// lib/net/http.h: the request heads a health endpoint takes and the ones it
// refuses, each with its status; and the response head it writes.
#include "net/http.h"

#include <gtest/gtest.h>

#include <string>

namespace {

net::HttpParse parse(const std::string& s, net::HttpRequest& r) {
    return net::parse_http_request(s.data(), s.size(), r);
}

TEST(Http, CurlsGetIsParsed) {
    net::HttpRequest r;
    std::string req = "GET /status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    ASSERT_EQ(parse(req, r), net::HttpParse::Ok);
    EXPECT_STREQ(r.target, "/status");
    EXPECT_EQ(r.minor, 1);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.head_only);
    EXPECT_EQ(r.head_bytes, req.size());
    // What follows the head (a pipelined request) is not part of it.
    ASSERT_EQ(parse(req + "GET / HTTP/1.1\r\n", r), net::HttpParse::Ok);
    EXPECT_EQ(r.head_bytes, req.size());
}

TEST(Http, ConnectionAndVersionDecideKeepAlive) {
    net::HttpRequest r;
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", r), net::HttpParse::Ok);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r), net::HttpParse::Ok);  // 1.0 needs no Host
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("HEAD /status?x=1 HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", r), net::HttpParse::Ok);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_TRUE(r.head_only);
    EXPECT_STREQ(r.target, "/status?x=1");
}

TEST(Http, AHeadArrivingInPiecesIsIncompleteUntilItEnds) {
    net::HttpRequest r;
    std::string req = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t n = 0; n < req.size(); n++) EXPECT_EQ(parse(req.substr(0, n), r), net::HttpParse::Incomplete) << n;
    EXPECT_EQ(parse(req, r), net::HttpParse::Ok);
}

TEST(Http, EachMalformedHeadIsRefusedWithItsStatus) {
    struct Case {
        std::string head;
        net::HttpParse want;
    } cases[] = {
        {"GET /status HTTP/1.1\r\n\r\n", net::HttpParse::Bad},                        // no Host
        {"GET /status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", net::HttpParse::Bad},  // two Hosts
        {"GET /status HTTP/1.1\nHost: a\n\n", net::HttpParse::Incomplete},            // bare LF: no CRLFCRLF
        {"GET /status HTTP/1.1\r\nHost: a\n\r\n\r\n", net::HttpParse::Bad},           // bare LF inside
        {"GET /status HTTP/1.1\r\nHost: a\rb\r\n\r\n", net::HttpParse::Bad},          // bare CR
        {"GET  /status HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},            // two spaces
        {"GET status HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},              // not origin-form
        {"GET http://x/status HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},     // absolute-form
        {"GET /status HTTP/1.1\r\nHost : a\r\n\r\n", net::HttpParse::Bad},            // space before colon
        {"GET /status HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", net::HttpParse::Bad},  // obs-fold
        {"GET /status HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", net::HttpParse::Bad},
        {"GET /status HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", net::HttpParse::Bad},
        {"GET /status HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", net::HttpParse::Bad},
        {"GET /st\x01us HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},       // control character
        {"GET /st\xc3\xa4tus HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},  // not ASCII
        {"GET /status HTTP/2.0\r\nHost: a\r\n\r\n", net::HttpParse::VersionNotSupported},
        {"GET /status HTTP/1.2\r\nHost: a\r\n\r\n", net::HttpParse::VersionNotSupported},
        {"GET /status HTTX/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},
        {"GET /status HTTP/1.10\r\nHost: a\r\n\r\n", net::HttpParse::Bad},
        {"POST /status HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::MethodNotAllowed},
        {"G(T /status HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::Bad},  // not a token
        {"GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", net::HttpParse::TooLarge},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(5000, 'a'), net::HttpParse::TooLarge},
    };
    for (const Case& c : cases) {
        net::HttpRequest r;
        EXPECT_EQ(parse(c.head, r), c.want) << c.head.substr(0, 80);
    }
    EXPECT_EQ(net::http_status_for(net::HttpParse::Bad), 400);
    EXPECT_EQ(net::http_status_for(net::HttpParse::TooLarge), 431);
    EXPECT_EQ(net::http_status_for(net::HttpParse::MethodNotAllowed), 405);
    EXPECT_EQ(net::http_status_for(net::HttpParse::VersionNotSupported), 505);
}

TEST(Http, ResponseHeadSaysLengthTypeAndConnection) {
    char out[256];
    usize n = net::http_response_head(out, sizeof out, 200, "application/json", 42, false);
    EXPECT_EQ(std::string(out, n),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 42\r\nCache-Control: "
              "no-store\r\nConnection: close\r\n\r\n");
    n = net::http_response_head(out, sizeof out, 405, "text/plain", 0, true);
    EXPECT_NE(std::string(out, n).find("Allow: GET, HEAD\r\n"), std::string::npos);
    EXPECT_EQ(net::http_response_head(out, 20, 200, "application/json", 42, false), 0u);
}

}  // namespace
