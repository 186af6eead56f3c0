#include "fake_policy.h"

namespace fanvil {

namespace fake {
std::optional<Loaded> loaded;
std::function<std::optional<Decision>(const Request&)> decide;
std::vector<Request> requests;
std::optional<std::vector<uint8_t>> table;
int started = 0;
int paused = 0;
int resumed = 0;
std::vector<std::pair<std::string, std::string>> commands;
CommandAnswer answer;

void reset() {
    loaded.reset();
    decide = nullptr;
    requests.clear();
    table.reset();
    started = paused = resumed = 0;
    commands.clear();
    answer = CommandAnswer{};
}
} // namespace fake

// The executable echoes the requested one, as a first load in a process would report it.
PythonPolicy::PythonPolicy(const std::string& python, const std::vector<std::string>& extra_paths,
                           const std::string& policy_path, double reload_interval,
                           const std::optional<std::string>& inventory, LogSink sink,
                           PacketPath* path, const std::string& server_name)
    : executable_(python), detail_("fake policy") {
    fake::loaded =
        fake::Loaded{python, extra_paths, policy_path, reload_interval, inventory, sink, path,
                     server_name};
    if (path && fake::table) {
        path->publish(fake::table->data(), fake::table->size(), fake::GENERATION);
    }
}

PythonPolicy::~PythonPolicy() = default;

std::optional<Decision> PythonPolicy::decide(const Request& request) const {
    fake::requests.push_back(request);
    if (!fake::decide) return std::nullopt;
    return fake::decide(request);
}

void PythonPolicy::startThreads() { ++fake::started; }
void PythonPolicy::pauseThreads() { ++fake::paused; }
void PythonPolicy::resumeThreads() { ++fake::resumed; }

CommandAnswer PythonPolicy::command(const std::string& name, const std::string& arguments) const {
    fake::commands.emplace_back(name, arguments);
    return fake::answer;
}

} // namespace fanvil
