// A QuickFIX acceptor (the venue) for the corelane FIX initiator
// (examples/fix_session.rs --initiator). It answers every NewOrderSingle
// with the venue's execution reports (the rules of examples/fix/app.rs),
// answers TestRequests and heartbeats as QuickFIX does, and recovers the
// initiator's forced sequence gap by its own ResendRequest. It exits after
// the initiator's Logout, checking what it saw.
//
// usage: qf_acceptor CONFIG EXPECTED_ORDERS EXPECT_GAP(0|1)
// prints "qf_acceptor: listening" once the acceptor runs; exit status 0
// when every check passed, 3 when it could not start (port in use).

#include <quickfix/SocketAcceptor.h>

#include <cstdlib>
#include <thread>

#include <quickfix/FileStore.h>

#include "qf_common.h"

namespace {

const char* const WHO = "qf_acceptor";

class Venue : public FIX::Application {
 public:
  qf::Waiter w;
  bool logged_on = false, logged_out = false;
  int orders = 0, reports = 0, test_requests = 0, heartbeats = 0, resend_requests_sent = 0;
  int gap_fills = 0, other = 0;

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> l(w.m);
    logged_on = true;
    w.notify();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard<std::mutex> l(w.m);
    logged_out = true;
    w.notify();
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    std::lock_guard<std::mutex> l(w.m);
    if (qf::msg_type(m) == "2") resend_requests_sent++;
  }
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    std::lock_guard<std::mutex> l(w.m);
    std::string t = qf::msg_type(m);
    if (t == "0") heartbeats++;
    if (t == "1") test_requests++;
    if (t == "4" && qf::field(m, 123) == "Y") gap_fills++;
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID& sid) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    if (qf::msg_type(m) != "D") {
      std::lock_guard<std::mutex> l(w.m);
      other++;
      return;
    }
    int n;
    {
      std::lock_guard<std::mutex> l(w.m);
      n = ++orders;
    }
    long qty = std::atol(qf::field(m, 38).c_str());
    std::string side = qf::field(m, 54);
    double px = std::atof(qf::field(m, 44).c_str());
    long cum = 0;
    for (const auto& r : qf::expected(qty, side.empty() ? '?' : side[0], px)) {
      long last = r == std::make_pair('F', '1') ? qty / 2 : r.first == 'F' ? qty - cum : 0;
      cum += last;
      bool rejected = r.first == '8';
      FIX::Message er;
      er.getHeader().setField(FIX::MsgType("8"));
      er.setField(FIX::OrderID("Q" + std::to_string(n)));
      er.setField(FIX::ExecID("X" + std::to_string(++reports)));
      er.setField(FIX::ExecType(r.first));
      er.setField(FIX::OrdStatus(r.second));
      er.setField(FIX::ClOrdID(qf::field(m, 11)));
      er.setField(FIX::Symbol(qf::field(m, 55)));
      er.setField(FIX::Side(side.empty() ? '1' : side[0]));
      er.setField(FIX::OrderQty(qty));
      er.setField(FIX::LastQty(last));
      if (last > 0) er.setField(FIX::LastPx(px));
      er.setField(FIX::LeavesQty(rejected ? 0 : qty - cum));
      er.setField(FIX::CumQty(cum));
      er.setField(FIX::AvgPx(cum > 0 ? px : 0));
      if (rejected) er.setField(FIX::Text("invalid order"));
      FIX::Session::sendToTarget(er, sid);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: qf_acceptor CONFIG EXPECTED_ORDERS EXPECT_GAP\n");
    return 2;
  }
  int expected = std::atoi(argv[2]);
  bool gap = std::atoi(argv[3]) != 0;
  Venue app;
  try {
    FIX::SessionSettings settings(argv[1]);
    FIX::FileStoreFactory store(settings);
    FIX::FileLogFactory log(settings);
    FIX::SocketAcceptor acceptor(app, store, settings, log);
    try {
      acceptor.start();
    } catch (std::exception& e) {
      std::fprintf(stderr, "%s: cannot start: %s\n", WHO, e.what());
      return 3;
    }
    std::printf("%s: listening\n", WHO);
    std::fflush(stdout);
    bool ok = qf::check(app.w.wait([&] { return app.logged_on; }, 15), WHO,
                        "the corelane initiator logged on");
    ok &= qf::check(app.w.wait([&] { return app.logged_out; }, 40), WHO,
                    "the corelane initiator logged out");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    acceptor.stop();
    std::lock_guard<std::mutex> l(app.w.m);
    ok &= qf::check(app.orders == expected && app.other == 0, WHO,
                    "orders received: " + std::to_string(app.orders) + " of " +
                        std::to_string(expected));
    ok &= qf::check(app.test_requests >= 1, WHO, "a TestRequest from corelane was answered");
    ok &= qf::check(app.heartbeats >= 1, WHO,
                    "heartbeats from corelane: " + std::to_string(app.heartbeats));
    if (gap) {
      ok &= qf::check(app.resend_requests_sent >= 1 && app.gap_fills >= 1, WHO,
                      "the forced gap was recovered: ResendRequests sent " +
                          std::to_string(app.resend_requests_sent) + ", GapFills received " +
                          std::to_string(app.gap_fills));
    }
    std::fprintf(stderr, "%s: %s\n", WHO, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  } catch (std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", WHO, e.what());
    return 1;
  }
}
