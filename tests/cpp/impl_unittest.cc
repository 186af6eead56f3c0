// FanvilImpl around the policy: what it hands the policy, its statistics, and that a failure
// leaves the response as Kea built it with one log line that names it (secrets masked).
#include <stats/stats_mgr.h>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>

#include "fake_policy.h"
#include "fanvil_impl.h"
#include "packets.h"
#include "test_log.h"

using namespace fanvil;
using namespace fanvil::test;
using namespace isc::dhcp;
using isc::stats::StatsMgr;

namespace {

// nullopt when the statistic does not exist.
std::optional<int64_t> stat(const std::string& name) {
    isc::stats::ObservationPtr observation = StatsMgr::instance().getObservation(name);
    if (!observation) return std::nullopt;
    return observation->getInteger().first;
}

class Impl : public ::testing::Test {
protected:
    void SetUp() override {
        fake::reset();
        StatsMgr::instance().removeAll();
    }

    static std::unique_ptr<FanvilImpl> make(long error_log_interval) {
        Config config;
        config.policy = "/etc/kea/fanvil.yaml";
        config.error_log_interval = error_log_interval;
        config.table = false;  // these tests script the Python decide() path
        return std::make_unique<FanvilImpl>(config);
    }

    static Pkt4Ptr query() {
        Pkt4Ptr query(new Pkt4(DHCPDISCOVER, 0x1234));
        query->setHWAddr(HTYPE_ETHER, 6, {0x0c, 0x38, 0x3e, 0x12, 0x34, 0x56});
        return query;
    }

    static Pkt4Ptr response(uint8_t type) {
        Pkt4Ptr response(new Pkt4(type, 0x1234));
        response->addOption(option(DHO_TFTP_SERVER_NAME, bytes("kea-tftp")));
        return response;
    }

    static void failWith(std::function<void()> thrower) {
        fake::decide = [thrower](const Request&) -> std::optional<Decision> {
            thrower();
            return std::nullopt;
        };
    }
};

TEST_F(Impl, policyGetsTheConfiguration) {
    Config config;
    config.policy = "/etc/kea/fanvil.yaml";
    config.python = "/opt/venv/bin/python";
    config.python_path = {"/src/a", "/src/b"};
    config.policy_reload_interval = 2.5;
    config.inventory = "";
    config.table = false;
    FanvilImpl impl(config);
    ASSERT_TRUE(fake::loaded);
    EXPECT_EQ("/opt/venv/bin/python", fake::loaded->python);
    EXPECT_EQ((std::vector<std::string>{"/src/a", "/src/b"}), fake::loaded->extra_paths);
    EXPECT_EQ("/etc/kea/fanvil.yaml", fake::loaded->policy_path);
    EXPECT_EQ(2.5, fake::loaded->reload_interval);
    EXPECT_EQ(std::optional<std::string>(""), fake::loaded->inventory);
    EXPECT_NE(nullptr, fake::loaded->sink);
}

TEST_F(Impl, loadZeroesThePacketCountersOnly) {
    // The reload and inventory counters may already hold what the watcher reported.
    StatsMgr::instance().setValue("pkt4-fanvil-matched", int64_t(7));
    StatsMgr::instance().setValue("fanvil-policy-reloads", int64_t(3));
    auto impl = make(60);
    EXPECT_EQ(0, stat("pkt4-fanvil-matched"));
    EXPECT_EQ(0, stat("pkt4-fanvil-changed"));
    EXPECT_EQ(0, stat("pkt4-fanvil-errors"));
    EXPECT_EQ(0, stat("pkt4-fanvil-python-decisions"));
    EXPECT_EQ(3, stat("fanvil-policy-reloads"));
    EXPECT_EQ(0, stat("fanvil-policy-reload-failures"));
    EXPECT_EQ(0, stat("fanvil-inventory-recorded"));
    EXPECT_EQ(0, stat("fanvil-inventory-dropped"));
}

TEST_F(Impl, onlyOffersAndAcksGoToThePolicy) {
    auto impl = make(60);
    impl->process(query(), response(DHCPNAK));
    EXPECT_EQ(0u, fake::requests.size());
    impl->process(query(), response(DHCPACK));
    EXPECT_EQ(1u, fake::requests.size());
    impl->process(query(), response(DHCPOFFER));
    EXPECT_EQ(2u, fake::requests.size());
}

TEST_F(Impl, countersFollowTheDecision) {
    auto impl = make(60);
    impl->process(query(), response(DHCPOFFER));  // not a phone
    EXPECT_EQ(0, stat("pkt4-fanvil-matched"));
    fake::decide = [](const Request&) { return Decision(); };  // a phone, nothing to change
    impl->process(query(), response(DHCPOFFER));
    EXPECT_EQ(1, stat("pkt4-fanvil-matched"));
    EXPECT_EQ(0, stat("pkt4-fanvil-changed"));
    fake::decide = [](const Request&) {
        Decision decision;
        decision.boot_file = bytes("f0c00620.cfg");
        return decision;
    };
    impl->process(query(), response(DHCPOFFER));
    EXPECT_EQ(2, stat("pkt4-fanvil-matched"));
    EXPECT_EQ(1, stat("pkt4-fanvil-changed"));
    EXPECT_EQ(0, stat("pkt4-fanvil-errors"));
    EXPECT_EQ(3, stat("pkt4-fanvil-python-decisions"));  // this fixture decides in Python
}

TEST_F(Impl, failureLeavesTheResponseAndIsLoggedOncePerInterval) {
    auto impl = make(60);
    failWith([] {
        throw PythonError("ValueError: no http://admin:secret@prov/ (policy.py:12)");
    });
    Pkt4Ptr phone = query();
    Pkt4Ptr offer = response(DHCPOFFER);
    Bytes before = wire(offer);
    LogCapture log;
    impl->process(phone, offer);
    EXPECT_EQ(before, wire(offer));
    EXPECT_EQ(1, stat("pkt4-fanvil-errors"));
    EXPECT_EQ(0, stat("pkt4-fanvil-matched"));
    impl->process(phone, offer);  // within the minute: counted, not logged
    EXPECT_EQ(2, stat("pkt4-fanvil-errors"));
    EXPECT_EQ(std::vector<std::string>{"ERROR FANVIL_DECIDE_FAILED " + phone->getLabel() +
                                       ": the policy's decide() failed (ValueError: no "
                                       "http://admin:****@prov/ (policy.py:12)), the response "
                                       "goes out unchanged"},
              log.lines());
}

TEST_F(Impl, eachKindOfFailureHasItsMessage) {
    auto impl = make(0);
    Pkt4Ptr phone = query();
    const std::string unchanged = "), the response goes out unchanged";
    LogCapture log;
    failWith([] { throw PythonError("KeyError: 'mac' (entry.py:40)"); });
    impl->process(phone, response(DHCPOFFER));
    failWith([] { throw BadDecision("option code 300 is not an integer in 1-254"); });
    impl->process(phone, response(DHCPOFFER));
    failWith([] { throw std::runtime_error("boom"); });
    impl->process(phone, response(DHCPOFFER));
    failWith([] { throw 42; });
    impl->process(phone, response(DHCPOFFER));
    const std::string label = phone->getLabel();
    EXPECT_EQ((std::vector<std::string>{
                  "ERROR FANVIL_DECIDE_FAILED " + label +
                      ": the policy's decide() failed (KeyError: 'mac' (entry.py:40)" + unchanged,
                  "ERROR FANVIL_BAD_DECISION " + label +
                      ": the policy's decision could not be used (option code 300 is not an "
                      "integer in 1-254" + unchanged,
                  "ERROR FANVIL_PACKET_ERROR " + label +
                      ": processing the response failed (boom" + unchanged,
                  "ERROR FANVIL_PACKET_ERROR " + label +
                      ": processing the response failed (unknown exception" + unchanged}),
              log.lines());
    EXPECT_EQ(4, stat("pkt4-fanvil-errors"));
}

TEST_F(Impl, pythonReportsAreLoggedMasked) {
    auto impl = make(60);
    LogSink sink = fake::loaded->sink;
    LogCapture log;
    sink("reloaded", "/etc/kea/fanvil.yaml", "2 devices, default http://u:pw@prov/");
    sink("reload-failed", "/etc/kea/fanvil.yaml", "line 3: ftp://u:pw@x is not allowed");
    sink("warning", "/etc/kea/fanvil.yaml", "readable by every user");
    sink("inventory-error", "/var/lib/kea/phones.db", "unable to open database file");
    sink("not-yet-known", "/etc/kea/fanvil.yaml", "a newer Python side");
    EXPECT_EQ((std::vector<std::string>{
                  "INFO FANVIL_POLICY_RELOADED the Fanvil policy /etc/kea/fanvil.yaml changed "
                  "and is now in force: 2 devices, default http://u:****@prov/",
                  "ERROR FANVIL_POLICY_RELOAD_FAILED the Fanvil policy /etc/kea/fanvil.yaml "
                  "changed but cannot be used, the previous policy stays in force: line 3: "
                  "ftp://u:****@x is not allowed",
                  "WARN FANVIL_POLICY_WARNING the Fanvil policy /etc/kea/fanvil.yaml: readable "
                  "by every user",
                  "ERROR FANVIL_INVENTORY_ERROR the inventory of phones seen, "
                  "/var/lib/kea/phones.db, cannot be written: unable to open database file",
                  "WARN FANVIL_POLICY_WARNING the Fanvil policy /etc/kea/fanvil.yaml: a newer "
                  "Python side"}),
              log.lines());
    EXPECT_EQ(1, stat("fanvil-policy-reloads"));
    EXPECT_EQ(1, stat("fanvil-policy-reload-failures"));
}

TEST_F(Impl, pythonMayCountOnlyTheInventory) {
    auto impl = make(60);
    LogSink sink = fake::loaded->sink;
    sink("count", "fanvil-inventory-recorded", "3");
    sink("count", "fanvil-inventory-dropped", "2");
    // Kea's own statistics and the hook's packet counters are not the Python side's to touch.
    sink("count", "pkt4-received", "5");
    sink("count", "pkt4-fanvil-matched", "5");
    EXPECT_EQ(3, stat("fanvil-inventory-recorded"));
    EXPECT_EQ(2, stat("fanvil-inventory-dropped"));
    EXPECT_EQ(std::nullopt, stat("pkt4-received"));
    EXPECT_EQ(0, stat("pkt4-fanvil-matched"));
}

} // namespace
