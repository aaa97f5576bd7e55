// util::JsonWriter: well-formed JSON or a failed writer, never malformed text.
#include "util/json_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(JsonWriter, NestedDocument) {
    char buf[256];
    util::JsonWriter w(buf, sizeof buf);
    w.begin_object();
    w.key("uptime_ms");
    w.number(1234);
    w.key("devices");
    w.begin_array();
    w.begin_object();
    w.key("name");
    w.string("nvme0");
    w.key("up");
    w.boolean(true);
    w.end_object();
    w.string("vnet0");
    w.number_signed(-7);
    w.null();
    w.end_array();
    w.key("empty");
    w.begin_object();
    w.end_object();
    w.end_object();
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(std::string(w.text(), w.size()),
              R"({"uptime_ms":1234,"devices":[{"name":"nvme0","up":true},"vnet0",-7,null],"empty":{}})");
}

TEST(JsonWriter, StringsAreEscaped) {
    char buf[128];
    util::JsonWriter w(buf, sizeof buf);
    w.string("a\"b\\c\n\x01");
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(std::string(w.text()), R"("a\"b\\c\u000a\u0001")");
}

// RFC 8259 §8.1: JSON text is UTF-8; a string that is not fails the writer.
TEST(JsonWriter, StringsMustBeUtf8) {
    char buf[64];
    {
        util::JsonWriter w(buf, sizeof buf);
        w.string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        ASSERT_TRUE(w.ok());
        EXPECT_EQ(std::string(w.text()), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    }
    for (const char* bad : {"\xff", "\xc3", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                            "a\x80"
                            "b"}) {
        util::JsonWriter w(buf, sizeof buf);
        w.string(bad);
        EXPECT_FALSE(w.ok()) << bad;
    }
}

TEST(JsonWriter, MisuseAndOverflowFail) {
    char buf[64];
    {
        util::JsonWriter w(buf, sizeof buf);
        w.begin_object();
        w.number(1);  // a value where a key is due
        EXPECT_FALSE(w.ok());
    }
    {
        util::JsonWriter w(buf, sizeof buf);
        w.begin_array();
        w.end_object();  // the wrong end
        EXPECT_FALSE(w.ok());
    }
    {
        util::JsonWriter w(buf, sizeof buf);
        w.begin_object();
        w.key("a");
        w.end_object();  // a key without its value
        EXPECT_FALSE(w.ok());
    }
    {
        util::JsonWriter w(buf, sizeof buf);
        w.begin_object();  // never ended
        EXPECT_FALSE(w.ok());
    }
    {
        util::JsonWriter w(buf, 8);
        w.string("much too long for eight bytes");
        EXPECT_FALSE(w.ok());
        EXPECT_LT(w.size(), 8u);
    }
    {
        util::JsonWriter w(buf, sizeof buf);
        w.number(1);
        w.number(2);  // two top-level values
        EXPECT_FALSE(w.ok());
    }
}

}  // namespace
