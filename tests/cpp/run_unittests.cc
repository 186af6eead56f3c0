// main() as in Kea's own unit tests (isc::log::initLogger() after gtest), except that the log
// goes to a file the tests read back (test_log.h) instead of the terminal.
#include <log/logger_support.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_log.h"

namespace {
std::string log_file;
} // namespace

const std::string& fanvil::test::logFile() { return log_file; }

int main(int argc, char* argv[]) {
    ::testing::InitGoogleTest(&argc, argv);
    // Next to the binary, emptied on every run so that a failure shows this run's lines only.
    log_file = (std::filesystem::path(argv[0]).parent_path() / "fanvil_unittests.log").string();
    std::ofstream(log_file, std::ios::trunc);
    // Forced, unlike Kea's KEA_LOGGER_* defaults: tests assert on the hook's INFO lines.
    setenv("KEA_LOGGER_DESTINATION", log_file.c_str(), 1);
    setenv("KEA_LOGGER_SEVERITY", "INFO", 1);
    // Kea's logger lock file lives in /run/kea by default: none is needed by one test process.
    setenv("KEA_LOCKFILE_DIR", "none", 0);
    isc::log::initLogger();
    return RUN_ALL_TESTS();
}
