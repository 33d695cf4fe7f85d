// A QuickFIX initiator against the corelane FIX acceptor
// (examples/fix_session.rs --acceptor). It logs on (HeartBtInt from the
// config), idles while heartbeats flow, sends a TestRequest and waits for
// its Heartbeat, sends orders and checks every execution report against
// the venue's rules, then forces a sequence gap (jumps its next outbound
// MsgSeqNum) and sends more orders: the acceptor must ask for a resend
// (ResendRequest), QuickFIX answers with SequenceReset-GapFill over the
// skipped numbers and the stored orders again, and every order must still
// be answered. Then it logs out.
//
// The store is QuickFIX's FileStore (FileStorePath in the config): its
// MemoryStore answers a ResendRequest whose first number was never sent
// (our forced gap) with no messages at all, so QuickFIX would gap-fill its
// stored orders too and they would never arrive. (MemoryStore::get looks
// the range up with `find(begin)`, which fails for a skipped number.)
//
// usage: qf_initiator CONFIG ORDERS_BEFORE_GAP ORDERS_AFTER_GAP
// exit status 0 when every check passed.

#include <quickfix/SocketInitiator.h>

#include <cstdlib>
#include <map>
#include <thread>

#include <quickfix/FileStore.h>

#include "qf_common.h"

namespace {

const char* const WHO = "qf_initiator";
const char* const TEST_REQ_ID = "QF-TR-1";

class Client : public FIX::Application {
 public:
  qf::Waiter w;
  bool logged_on = false, logged_out = false;
  int heartbeats = 0, echoes = 0, resend_requests = 0, test_requests = 0, other = 0;
  std::map<std::string, qf::Reports> reports;
  FIX::SessionID sid;

  void onCreate(const FIX::SessionID& s) override { sid = s; }
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
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::RejectLogon) override {
    std::lock_guard<std::mutex> l(w.m);
    std::string t = qf::msg_type(m);
    if (t == "0") {
      heartbeats++;
      if (qf::field(m, 112) == TEST_REQ_ID) echoes++;
    } else if (t == "1") {
      test_requests++;
    } else if (t == "2") {
      resend_requests++;
    }
    w.notify();
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override {
    std::lock_guard<std::mutex> l(w.m);
    if (qf::msg_type(m) != "8") {
      other++;
    } else {
      std::string et = qf::field(m, 150), os = qf::field(m, 39);
      char e = et.empty() ? '?' : et[0], o = os.empty() ? '?' : os[0];
      reports[qf::field(m, 11)].push_back(std::make_pair(e, o));
    }
    w.notify();
  }

  // Orders [from, to) answered in full (call under the lock).
  bool answered(int from, int to) {
    for (int n = from; n < to; n++) {
      auto it = reports.find("C" + std::to_string(n));
      size_t want = qf::expected(qf::order_qty(n), qf::order_side(n), qf::order_px(n)).size();
      if (it == reports.end() || it->second.size() < want) return false;
    }
    return true;
  }
};

FIX::Message order(int n) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("D"));
  m.setField(FIX::ClOrdID("C" + std::to_string(n)));
  m.setField(FIX::HandlInst('1'));
  m.setField(FIX::Symbol("CLNE"));
  m.setField(FIX::Side(qf::order_side(n)));
  m.setField(FIX::TransactTime());
  m.setField(FIX::OrderQty(qf::order_qty(n)));
  m.setField(FIX::OrdType(FIX::OrdType_LIMIT));
  m.setField(FIX::Price(qf::order_px(n)));
  return m;
}

bool run(Client& app, FIX::Session* s, int before, int after) {
  bool ok = true;
  {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    std::lock_guard<std::mutex> l(app.w.m);
    ok &= qf::check(app.heartbeats >= 1, WHO,
                    "heartbeats from corelane while idle: " + std::to_string(app.heartbeats));
  }
  FIX::Message tr;
  tr.getHeader().setField(FIX::MsgType("1"));
  tr.setField(FIX::TestReqID(TEST_REQ_ID));
  FIX::Session::sendToTarget(tr, app.sid);
  ok &= qf::check(app.w.wait([&] { return app.echoes >= 1; }, 5), WHO,
                  "corelane answered our TestRequest with Heartbeat(112=QF-TR-1)");
  for (int n = 0; n < before; n++) {
    FIX::Message o = order(n);
    FIX::Session::sendToTarget(o, app.sid);
  }
  ok &= qf::check(app.w.wait([&] { return app.answered(0, before); }, 10), WHO,
                  std::to_string(before) + " orders answered before the gap");
  int next = s->getExpectedSenderNum();
  s->setNextSenderMsgSeqNum(next + 5);
  std::fprintf(stderr, "%s: forced gap: MsgSeqNum %d..%d skipped\n", WHO, next, next + 4);
  for (int n = before; n < before + after; n++) {
    FIX::Message o = order(n);
    FIX::Session::sendToTarget(o, app.sid);
  }
  ok &= qf::check(app.w.wait([&] { return app.resend_requests >= 1; }, 10), WHO,
                  "corelane sent a ResendRequest for the gap");
  ok &= qf::check(app.w.wait([&] { return app.answered(before, before + after); }, 10), WHO,
                  std::to_string(after) + " orders answered after the gap (resent by QuickFIX)");
  std::lock_guard<std::mutex> l(app.w.m);
  int wrong = 0;
  for (int n = 0; n < before + after; n++) {
    qf::Reports want = qf::expected(qf::order_qty(n), qf::order_side(n), qf::order_px(n));
    if (app.reports["C" + std::to_string(n)] != want) wrong++;
  }
  ok &= qf::check(wrong == 0 && app.other == 0, WHO,
                  "every order got exactly the venue's reports (orders wrong: " +
                      std::to_string(wrong) + ", other messages: " + std::to_string(app.other) +
                      ")");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: qf_initiator CONFIG ORDERS_BEFORE_GAP ORDERS_AFTER_GAP\n");
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    Client app;
    FIX::FileStoreFactory store(settings);
    FIX::FileLogFactory log(settings);
    FIX::SocketInitiator initiator(app, store, settings, log);
    initiator.start();
    bool ok = qf::check(app.w.wait([&] { return app.logged_on; }, 10), WHO,
                        "logged on to the corelane acceptor");
    FIX::Session* s = FIX::Session::lookupSession(app.sid);
    if (ok && s) ok &= run(app, s, std::atoi(argv[2]), std::atoi(argv[3]));
    if (s) s->logout("done");
    ok &= qf::check(app.w.wait([&] { return app.logged_out; }, 5), WHO,
                    "Logout handshake completed");
    initiator.stop();
    std::fprintf(stderr, "%s: %s\n", WHO, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  } catch (std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", WHO, e.what());
    return 1;
  }
}
