// ErrorThrottle::admit with the clock in the test's hands: one line per kind of failure per
// interval, and the next line says how many were left out.
#include <gtest/gtest.h>

#include <chrono>

#include "fanvil_impl.h"

using namespace fanvil;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Any fixed point will do: only differences matter.
const std::chrono::steady_clock::time_point T0 = std::chrono::steady_clock::time_point() +
                                                 std::chrono::hours(1000);
// Logged, and no repeat was left out since the last line.
const std::optional<std::string> LOGGED("");

TEST(ErrorThrottle, firstFailureIsLoggedWithoutSuffix) {
    ErrorThrottle throttle(60);
    EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECIDE, T0));
}

TEST(ErrorThrottle, repeatsWithinTheIntervalAreCountedThenReported) {
    ErrorThrottle throttle(60);
    ASSERT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECIDE, T0));
    EXPECT_EQ(std::nullopt, throttle.admit(ErrorThrottle::DECIDE, T0));
    EXPECT_EQ(std::nullopt, throttle.admit(ErrorThrottle::DECIDE, T0 + seconds(30)));
    EXPECT_EQ(std::nullopt,
              throttle.admit(ErrorThrottle::DECIDE, T0 + seconds(60) - milliseconds(1)));
    EXPECT_EQ(std::optional<std::string>(" (3 more since the last report)"),
              throttle.admit(ErrorThrottle::DECIDE, T0 + seconds(60)));
}

TEST(ErrorThrottle, intervalRunsFromTheLastReportedLine) {
    ErrorThrottle throttle(60);
    ASSERT_EQ(LOGGED, throttle.admit(ErrorThrottle::PACKET, T0));
    ASSERT_EQ(std::nullopt, throttle.admit(ErrorThrottle::PACKET, T0 + seconds(50)));
    ASSERT_EQ(std::optional<std::string>(" (1 more since the last report)"),
              throttle.admit(ErrorThrottle::PACKET, T0 + seconds(70)));
    // 70 s after T0 but only 40 s after the last line: quiet, and the count starts again.
    EXPECT_EQ(std::nullopt, throttle.admit(ErrorThrottle::PACKET, T0 + seconds(110)));
    EXPECT_EQ(std::optional<std::string>(" (1 more since the last report)"),
              throttle.admit(ErrorThrottle::PACKET, T0 + seconds(130)));
    EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::PACKET, T0 + seconds(190)));
}

TEST(ErrorThrottle, kindsAreThrottledApart) {
    // A policy failing on every packet must not hide a bug in the hook itself.
    ErrorThrottle throttle(60);
    ASSERT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECIDE, T0));
    EXPECT_EQ(std::nullopt, throttle.admit(ErrorThrottle::DECIDE, T0 + seconds(1)));
    EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECISION, T0 + seconds(1)));
    EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::PACKET, T0 + seconds(1)));
    EXPECT_EQ(std::optional<std::string>(" (1 more since the last report)"),
              throttle.admit(ErrorThrottle::DECIDE, T0 + seconds(60)));
}

TEST(ErrorThrottle, zeroIntervalLogsEveryFailure) {
    ErrorThrottle throttle(0);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECIDE, T0));
    }
}

TEST(ErrorThrottle, withoutATimeItUsesTheSteadyClock) {
    // The hook's call: two failures in a row are well within a minute of each other.
    ErrorThrottle throttle(60);
    EXPECT_EQ(LOGGED, throttle.admit(ErrorThrottle::DECISION));
    EXPECT_EQ(std::nullopt, throttle.admit(ErrorThrottle::DECISION));
}

} // namespace
