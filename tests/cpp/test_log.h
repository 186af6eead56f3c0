// What the hook logged during a test: run_unittests.cc points Kea's logging at a file, and a
// LogCapture reads the lines appended to it since the capture was made.
#ifndef FANVIL_TEST_LOG_H
#define FANVIL_TEST_LOG_H

#include <fstream>
#include <string>
#include <vector>

namespace fanvil::test {

const std::string& logFile();

class LogCapture {
public:
    LogCapture() : start_(size()) {}

    // The hook's lines as "SEVERITY MESSAGE_ID text", without the time and Kea's logger name:
    // Kea writes "2024-05-01 12:00:00.123 ERROR [kea.fanvil-hooks/123.456] FANVIL_... text".
    std::vector<std::string> lines() const {
        std::ifstream in(logFile());
        in.seekg(start_);
        std::vector<std::string> found;
        std::string line;
        while (std::getline(in, line)) {
            size_t message = line.find("] FANVIL_");
            size_t time_end = line.find(' ', line.find(' ') + 1);
            if (message == std::string::npos || time_end == std::string::npos) continue;
            size_t severity_end = line.find(' ', time_end + 1);
            found.push_back(line.substr(time_end + 1, severity_end - time_end - 1) + " " +
                            line.substr(message + 2));
        }
        return found;
    }

private:
    static std::streamoff size() {
        std::ifstream in(logFile(), std::ios::ate);
        return in ? std::streamoff(in.tellg()) : 0;
    }
    std::streamoff start_;
};

} // namespace fanvil::test

#endif // FANVIL_TEST_LOG_H
