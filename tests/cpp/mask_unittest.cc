// maskSecrets: the passwords of provisioning URLs quoted in exception texts must not reach
// Kea's log. Every case here gives the same result as kea_fanvil.redact.mask.
#include <gtest/gtest.h>

#include "fanvil_impl.h"

using fanvil::maskSecrets;

namespace {

TEST(MaskSecrets, passwordIsMasked) {
    EXPECT_EQ("http://admin:****@prov.example.com/fanvil/",
              maskSecrets("http://admin:secret@prov.example.com/fanvil/"));
    EXPECT_EQ("ftp://:****@10.0.0.5", maskSecrets("ftp://:pw@10.0.0.5"));  // no user name
}

TEST(MaskSecrets, everyUrlInTheTextIsMasked) {
    EXPECT_EQ("tftp://a:****@h1/x then https://b:****@h2/y",
              maskSecrets("tftp://a:1@h1/x then https://b:22@h2/y"));
}

TEST(MaskSecrets, urlEndsAtQuotesAndWhitespace) {
    EXPECT_EQ("fetch https://u:****@host", maskSecrets("fetch https://u:pw@host"));
    EXPECT_EQ("'http://u:****@h' refused", maskSecrets("'http://u:pw@h' refused"));
    EXPECT_EQ("\"http://u:****@h\"", maskSecrets("\"http://u:pw@h\""));
    EXPECT_EQ("http://u:****@h\tnext", maskSecrets("http://u:pw@h\tnext"));
}

TEST(MaskSecrets, passwordMayHoldColonsAndAtSigns) {
    // As urlsplit reads it: the last "@" before the path ends the user information.
    EXPECT_EQ("http://u:****@host/", maskSecrets("http://u:a:b@c@host/"));
}

TEST(MaskSecrets, portIsNotAPassword) {
    EXPECT_EQ("http://u:****@host:8080/p", maskSecrets("http://u:pw@host:8080/p"));
    EXPECT_EQ("http://host:8080/p", maskSecrets("http://host:8080/p"));
}

TEST(MaskSecrets, textWithoutPasswordIsUnchanged) {
    for (const char* text : {"", "no URL here", "://", "http://host/", "http://user@host/",
                             "http://user:@host/", "user:pw@host (no scheme)"}) {
        EXPECT_EQ(text, maskSecrets(text));
    }
}

TEST(MaskSecrets, atSignOutsideTheAuthorityIsLeftAlone) {
    for (const char* text : {"http://host/path:x@y", "http://host/?u=a:b@c", "http://host/#a:b@c",
                             "mail root@example.com about http://host:80/",
                             "http://host:80 user:pw@x", "http://host:80\nuser:pw@x"}) {
        EXPECT_EQ(text, maskSecrets(text));
    }
}

TEST(MaskSecrets, maskingTwiceChangesNothing) {
    EXPECT_EQ("http://u:****@h/", maskSecrets(maskSecrets("http://u:pw@h/")));
}

} // namespace
