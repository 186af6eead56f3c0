// Config::parse: the hook parameters as kea-dhcp4 hands them over, and the exact text of every
// refusal (it ends up in FANVIL_LOAD_ERROR, the admin's only clue).
#include <cc/data.h>
#include <exceptions/exceptions.h>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "fanvil_impl.h"

using namespace fanvil;
using namespace isc::data;

namespace {

Config parse(const std::string& json) { return Config::parse(Element::fromJSON(json)); }

// The BadValue's text for these parameters; "" when they are accepted. Any other exception
// escapes and fails the test.
std::string refusal(const ConstElementPtr& params) {
    try {
        Config::parse(params);
    } catch (const isc::BadValue& ex) {
        return ex.what();
    }
    return "";
}
std::string refusal(const std::string& json) { return refusal(Element::fromJSON(json)); }

// A valid policy plus one more parameter, for values JSON cannot spell (NaN, infinity).
std::string refusalWith(const std::string& name, const ElementPtr& value) {
    ElementPtr params = Element::fromJSON(R"({"policy": "/etc/kea/fanvil.yaml"})");
    params->set(name, value);
    return refusal(params);
}

const std::string NEEDS_MAP = "parameters with at least 'policy' are required";
const std::string NEEDS_POLICY = "'policy' (the path of the policy file) is required";
const std::string BAD_ERROR_INTERVAL = "'error-log-interval' must be an integer >= 0 (seconds)";
const std::string BAD_RELOAD_INTERVAL =
    "'policy-reload-interval' must be a number of seconds from 0 (no reloading) to 86400";

TEST(ConfigParse, onlyPolicyGivesTheDefaults) {
    Config c = parse(R"({"policy": "/etc/kea/fanvil.yaml"})");
    EXPECT_EQ("/etc/kea/fanvil.yaml", c.policy);
    EXPECT_EQ("/nonexistent/venv/bin/python", c.python);  // FANVIL_DEFAULT_PYTHON (Makefile)
    EXPECT_TRUE(c.python_path.empty());
    EXPECT_EQ(60, c.error_log_interval);
    EXPECT_EQ(5.0, c.policy_reload_interval);
    EXPECT_FALSE(c.inventory.has_value());  // the Python side's default file, not "off"
}

TEST(ConfigParse, everyParameterIsTaken) {
    Config c = parse(R"({"policy": "/p.yaml", "python": "/opt/venv/bin/python",
                         "python-path": ["/src/a", "/src/b"], "error-log-interval": 3600,
                         "policy-reload-interval": 0.25, "inventory": "/var/lib/kea/phones.db"})");
    EXPECT_EQ("/p.yaml", c.policy);
    EXPECT_EQ("/opt/venv/bin/python", c.python);
    EXPECT_EQ((std::vector<std::string>{"/src/a", "/src/b"}), c.python_path);
    EXPECT_EQ(3600, c.error_log_interval);
    EXPECT_EQ(0.25, c.policy_reload_interval);
    EXPECT_EQ(std::optional<std::string>("/var/lib/kea/phones.db"), c.inventory);
}

TEST(ConfigParse, pythonPathMayBeOneString) {
    EXPECT_EQ(std::vector<std::string>{"/src"},
              parse(R"({"policy": "/p", "python-path": "/src"})").python_path);
    EXPECT_TRUE(parse(R"({"policy": "/p", "python-path": []})").python_path.empty());
}

TEST(ConfigParse, emptyInventoryMeansNoneNotTheDefault) {
    EXPECT_EQ(std::optional<std::string>(""),
              parse(R"({"policy": "/p", "inventory": ""})").inventory);
}

TEST(ConfigParse, intervalBoundsAreAccepted) {
    Config low = parse(R"({"policy": "/p", "error-log-interval": 0, "policy-reload-interval": 0})");
    EXPECT_EQ(0, low.error_log_interval);
    EXPECT_EQ(0.0, low.policy_reload_interval);
    // An integer reload interval is as good as a real one.
    EXPECT_EQ(86400.0, parse(R"({"policy": "/p", "policy-reload-interval": 86400})")
                           .policy_reload_interval);
    EXPECT_EQ(86400.0, parse(R"({"policy": "/p", "policy-reload-interval": 86400.0})")
                           .policy_reload_interval);
}

TEST(ConfigParse, parametersMustBeAMap) {
    EXPECT_EQ(NEEDS_MAP, refusal(ConstElementPtr()));  // no "parameters" at all
    EXPECT_EQ(NEEDS_MAP, refusal(R"(["/etc/kea/fanvil.yaml"])"));
    EXPECT_EQ(NEEDS_MAP, refusal(R"("/etc/kea/fanvil.yaml")"));
}

TEST(ConfigParse, policyIsRequiredAndNotEmpty) {
    EXPECT_EQ(NEEDS_POLICY, refusal("{}"));
    EXPECT_EQ(NEEDS_POLICY, refusal(R"({"python": "/usr/bin/python3"})"));
    EXPECT_EQ(NEEDS_POLICY, refusal(R"({"policy": ""})"));
}

TEST(ConfigParse, stringParametersMustBeStrings) {
    EXPECT_EQ("'policy' must be a string", refusal(R"({"policy": ["/p"]})"));
    EXPECT_EQ("'python' must be a string", refusal(R"({"policy": "/p", "python": true})"));
    EXPECT_EQ("'inventory' must be a string", refusal(R"({"policy": "/p", "inventory": null})"));
    EXPECT_EQ("'inventory' must be a string", refusal(R"({"policy": "/p", "inventory": false})"));
}

TEST(ConfigParse, pythonMustNotBeEmpty) {
    EXPECT_EQ("'python' must not be empty", refusal(R"({"policy": "/p", "python": ""})"));
}

TEST(ConfigParse, pythonPathMustBeStrings) {
    const std::string text = "'python-path' must be a string or a list of strings";
    EXPECT_EQ(text, refusal(R"({"policy": "/p", "python-path": 1})"));
    EXPECT_EQ(text, refusal(R"({"policy": "/p", "python-path": {"a": "/src"}})"));
    EXPECT_EQ("'python-path entries' must be a string",
              refusal(R"({"policy": "/p", "python-path": ["/src", 2]})"));
}

TEST(ConfigParse, errorLogIntervalMustBeANonNegativeInteger) {
    EXPECT_EQ(BAD_ERROR_INTERVAL, refusal(R"({"policy": "/p", "error-log-interval": -1})"));
    EXPECT_EQ(BAD_ERROR_INTERVAL, refusal(R"({"policy": "/p", "error-log-interval": 1.5})"));
    EXPECT_EQ(BAD_ERROR_INTERVAL, refusal(R"({"policy": "/p", "error-log-interval": "60"})"));
    EXPECT_EQ(BAD_ERROR_INTERVAL, refusal(R"({"policy": "/p", "error-log-interval": true})"));
}

TEST(ConfigParse, policyReloadIntervalMustBeInRange) {
    EXPECT_EQ(BAD_RELOAD_INTERVAL, refusal(R"({"policy": "/p", "policy-reload-interval": -1})"));
    EXPECT_EQ(BAD_RELOAD_INTERVAL,
              refusal(R"({"policy": "/p", "policy-reload-interval": -0.001})"));
    EXPECT_EQ(BAD_RELOAD_INTERVAL,
              refusal(R"({"policy": "/p", "policy-reload-interval": 86400.5})"));
    EXPECT_EQ(BAD_RELOAD_INTERVAL,
              refusal(R"({"policy": "/p", "policy-reload-interval": 86401})"));
    EXPECT_EQ(BAD_RELOAD_INTERVAL, refusal(R"({"policy": "/p", "policy-reload-interval": "5"})"));
    // The range test is written to fail for NaN, which compares false with everything.
    EXPECT_EQ(BAD_RELOAD_INTERVAL,
              refusalWith("policy-reload-interval", Element::create(std::nan(""))));
    EXPECT_EQ(BAD_RELOAD_INTERVAL,
              refusalWith("policy-reload-interval",
                          Element::create(std::numeric_limits<double>::infinity())));
}

TEST(ConfigParse, unknownParameterIsNamed) {
    // A typo must not silently drop a setting.
    EXPECT_EQ("unknown parameter 'polciy' (known: policy, python, python-path, "
              "error-log-interval, policy-reload-interval, inventory, server-name, decisions)",
              refusal(R"({"policy": "/p", "polciy": "/q"})"));
}

TEST(ConfigParse, decisionsAreTableOrPython) {
    EXPECT_TRUE(Config::parse(Element::fromJSON(R"({"policy": "/p"})")).table);
    EXPECT_TRUE(
        Config::parse(Element::fromJSON(R"({"policy": "/p", "decisions": "table"})")).table);
    EXPECT_FALSE(
        Config::parse(Element::fromJSON(R"({"policy": "/p", "decisions": "python"})")).table);
    EXPECT_EQ("'decisions' must be \"table\" or \"python\"",
              refusal(R"({"policy": "/p", "decisions": "C"})"));
    EXPECT_EQ("'decisions' must be a string", refusal(R"({"policy": "/p", "decisions": 1})"));
}

} // namespace

TEST(ConfigParse, serverNameIsAShortPrintableWord) {
    EXPECT_EQ("", parse(R"({"policy": "/p"})").server_name);
    EXPECT_EQ("kea-east-1", parse(R"({"policy": "/p", "server-name": "kea-east-1"})").server_name);
    const std::string why = "'server-name' must be 1 to 64 printable ASCII characters without spaces";
    EXPECT_EQ(why, refusal(R"({"policy": "/p", "server-name": ""})"));
    EXPECT_EQ(why, refusal(R"({"policy": "/p", "server-name": "two words"})"));
    EXPECT_EQ(why, refusal(R"({"policy": "/p", "server-name": "x\nDROP"})"));
    EXPECT_EQ(why, refusal(R"({"policy": "/p", "server-name": ")" + std::string(65, 'a') + R"("})"));
    EXPECT_EQ("'server-name' must be a string", refusal(R"({"policy": "/p", "server-name": 1})"));
}
